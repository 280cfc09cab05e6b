package ai.arnet.edge.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized
import kotlin.math.abs

/**
 * Replays every golden trace (`golden/NAME.json`) (format: GOLDEN_FORMAT.md) through [Streamer] with fake
 * runners that return the recorded tensors, asserting that the right model is called at the
 * right step with the right frame size and state, and that kinds, actions, top-k, scores
 * (1e-9) and labels are identical.
 */
@RunWith(Parameterized::class)
class GoldenTraceTest(private val fileName: String) {
    companion object {
        const val FORMAT = "arnet-golden-trace/1"
        const val TOL = 1e-9

        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun traces(): List<Array<Any>> {
            val files = Res.file("golden").listFiles { f -> f.name.endsWith(".json") }!!.map { it.name }.sorted()
            check(files.isNotEmpty()) { "no golden traces" }
            return files.map { arrayOf<Any>(it) }
        }
    }

    private val trace: JSONObject = Res.json("golden/$fileName")

    /** Fake runners + frame sources that replay one trace and record every call. */
    private class Replay(val m: Manifest, val steps: List<JSONObject>, val name: String) {
        var cursor = -1
        val calls = ArrayList<String>()
        var expectH = FloatArray(m.hidden)
        var expectC = FloatArray(m.hidden)

        fun where(i: Int) = "$name t=$i"

        fun frames(i: Int) = FrameSource { size ->
            cursor = i
            calls.add("frame:$size")
            frameOf(size)
        }

        fun resetState() { expectH = FloatArray(m.hidden); expectC = FloatArray(m.hidden) }

        val policy = object : ModelRunner {
            override val artifactId = "policy"
            override fun run(inputs: Map<String, Any>): Map<String, FloatArray> {
                calls.add("policy")
                val w = where(cursor)
                val step = steps[cursor]
                val pol = step.optNullable("policy") as? JSONObject
                    ?: throw AssertionError("$w: the policy ran but the trace has policy = null (a skipped step)")
                assertEquals("$w: policy frame size", m.policyResolution, (inputs["frame"] as RgbFrame).size)
                assertTrue("$w: h fed to the policy is not the previous h' (or zeros after start/clear)",
                    expectH.contentEquals(inputs["h"] as FloatArray))
                assertTrue("$w: c fed to the policy is not the previous c'", expectC.contentEquals(inputs["c"] as FloatArray))
                val h = if (pol.has("h")) pol.getJSONArray("h").float32s("$w policy.h") else FloatArray(m.hidden)
                val c = if (pol.has("c")) pol.getJSONArray("c").float32s("$w policy.c") else FloatArray(m.hidden)
                expectH = h.copyOf(); expectC = c.copyOf()
                return mapOf(
                    "action_logits" to pol.getJSONArray("action_logits").float32s("$w policy.action_logits"),
                    "class_logits" to pol.getJSONArray("class_logits").float32s("$w policy.class_logits"),
                    "h" to h, "c" to c)
            }
        }

        fun backbone(id: String, resolution: Int) = object : ModelRunner {
            override val artifactId = id
            override fun run(inputs: Map<String, Any>): Map<String, FloatArray> {
                calls.add(id)
                val w = where(cursor)
                val bb = steps[cursor].optNullable("backbone") as? JSONObject
                    ?: throw AssertionError("$w: backbone '$id' ran but the trace has backbone = null")
                assertEquals("$w: backbone id", bb.getString("id"), id)
                assertEquals("$w: $id frame size", resolution, (inputs["frame"] as RgbFrame).size)
                return mapOf("class_logits" to bb.getJSONArray("class_logits").float32s("$w backbone.class_logits"))
            }
        }

        fun runners(): Map<String, ModelRunner> {
            val r = HashMap<String, ModelRunner>()
            r["policy"] = policy
            for (a in 0 until m.numResolutions - 1) {
                val id = m.actions[a].backbone!!
                r[id] = backbone(id, m.resolutions[a])
            }
            return r
        }

        /** The calls a step must make. */
        fun expectedCalls(step: JSONObject): List<String> {
            if (step.optNullable("policy") == null) return emptyList()
            val out = mutableListOf("frame:${m.policyResolution}", "policy")
            val bb = step.optNullable("backbone") as? JSONObject
            if (bb != null) {
                val id = bb.getString("id")
                val a = m.actions.indexOfFirst { !it.isSkip && it.backbone == id }
                assertTrue("$name: backbone id '$id' is not a backbone in the manifest", a >= 0)
                out += listOf("frame:${m.resolutions[a]}", id)
            }
            return out
        }
    }

    private fun options(): StreamOptions {
        val o = trace.optJSONObject("options") ?: JSONObject()
        return StreamOptions(
            window = (o.optNullable("window") as Number?)?.toInt(),
            topK = o.optInt("top_k", 3),
            margin = o.optDouble("margin", 0.1),
            hold = o.optInt("hold", 2))
    }

    private fun lambda(): Double = (trace.optJSONObject("options") ?: JSONObject()).optDouble("lambda", 0.0)

    private fun manifest(): Manifest = Manifest.fromJson(trace.getJSONObject("manifest"), "golden/$fileName:manifest")

    private fun steps(): List<JSONObject> {
        val arr = trace.getJSONArray("steps")
        return (0 until arr.length()).map { arr.getJSONObject(it) }
    }

    @Test
    fun replay() {
        assertEquals("$fileName: format", FORMAT, trace.getString("format"))
        val m = manifest()
        val steps = steps()
        assertTrue("$fileName: no steps", steps.isNotEmpty())
        val rp = Replay(m, steps, fileName)
        val s = Streamer(m, rp.runners(), options())
        s.lambda = lambda()
        for ((i, step) in steps.withIndex()) {
            val w = "$fileName t=$i"
            assertEquals("$w: steps[$i].t", i, step.getInt("t"))
            if (step.optBoolean("clear", false)) { s.clear(); rp.resetState() }
            rp.calls.clear()
            val ev = s.step(rp.frames(i))
            assertEquals("$w: model calls", rp.expectedCalls(step), rp.calls)
            val ex = step.getJSONObject("expect")
            assertEquals("$w: kind", ex.getString("kind"), ev.kind)
            assertEquals("$w: action", ex.getInt("action"), ev.action)
            val top = ex.getJSONArray("top")
            assertEquals("$w: top size (${ev.top})", top.length(), ev.top.size)
            for (k in 0 until top.length()) {
                val pair = top.getJSONArray(k)
                assertEquals("$w: top[$k] index", pair.getInt(0), ev.top[k].index)
                assertClose("$w: top[$k] score", pair.getDouble(1), ev.top[k].score)
            }
            assertEquals("$w: label", ex.optNullable("label"), ev.label)
            if (ex.has("scores")) {
                val sc = ex.optNullable("scores")
                if (sc == null) assertEquals("$w: scores", null, ev.scores)
                else {
                    val want = (sc as org.json.JSONArray).doubles()
                    val got = ev.scores ?: throw AssertionError("$w: expected scores, got none")
                    assertEquals("$w: scores size", want.size, got.size)
                    for (k in want.indices) assertClose("$w: scores[$k]", want[k], got[k])
                }
            }
        }
        val clip = trace.optJSONObject("clip")
        if (clip != null) {
            assertTrue("$fileName: clip traces must not clear()", steps.none { it.optBoolean("clear", false) })
            val rp2 = Replay(m, steps, "$fileName(clip)")
            val s2 = Streamer(m, rp2.runners(), options())
            s2.lambda = lambda()
            val got = s2.predictClip(steps.indices.map { rp2.frames(it) })
            val want = clip.getJSONArray("scores").doubles()
            assertEquals("$fileName: clip scores size", want.size, got.size)
            for (k in want.indices) assertClose("$fileName: clip scores[$k]", want[k], got[k])
        }
    }

    private fun assertClose(msg: String, want: Double, got: Double) {
        if (!(abs(want - got) <= TOL)) fail("$msg: expected $want, got $got (|diff| ${abs(want - got)} > $TOL)")
    }
}
