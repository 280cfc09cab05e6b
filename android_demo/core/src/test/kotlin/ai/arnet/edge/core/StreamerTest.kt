package ai.arnet.edge.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import kotlin.math.exp

/** Unit tests of the streaming rules (docs/STREAMING.md) with scripted runners. */
class StreamerTest {
    private val m = handmadeManifest() // L=4 (224,168,112,84), skips 1/2/4, 5 classes, hidden 4, W=4

    /** A policy that plays a script of (action, class logits); h' = h + 1. */
    private inner class Scripted(val script: List<Pair<Int, FloatArray>>) {
        var i = 0
        val log = ArrayList<String>()
        val frames = FrameSource { size -> log.add("frame:$size"); frameOf(size) }
        val policy = object : ModelRunner {
            override val artifactId = "policy"
            override fun run(inputs: Map<String, Any>): Map<String, FloatArray> {
                log.add("policy")
                val (a, low) = script[i++]
                val logits = FloatArray(m.numActions) { if (it == a) 5f else 0f }
                val h = (inputs["h"] as FloatArray).map { it + 1f }.toFloatArray()
                return mapOf("action_logits" to logits, "class_logits" to low, "h" to h, "c" to h.copyOf())
            }
        }
        fun backbone(id: String, logits: FloatArray) = object : ModelRunner {
            override val artifactId = id
            override fun run(inputs: Map<String, Any>): Map<String, FloatArray> { log.add(id); return mapOf("class_logits" to logits) }
        }
        fun runners(bb: FloatArray = onehot(0)) = mapOf("policy" to policy, "backbone_224" to backbone("backbone_224", bb),
            "backbone_168" to backbone("backbone_168", bb), "backbone_112" to backbone("backbone_112", bb))
    }

    private fun onehot(k: Int, v: Float = 2f) = FloatArray(5) { if (it == k) v else 0f }

    @Test
    fun skipCoversThisFrameAndTheNextFMinusOne() {
        val sc = Scripted(listOf(6 to onehot(1), 3 to onehot(1), 5 to onehot(1), 3 to onehot(1)))
        val s = Streamer(m, sc.runners())
        val kinds = (0 until 8).map { s.step(sc.frames).let { e -> "${e.kind}:${e.action}" } }
        assertEquals(listOf("skip:6", "skipped:6", "skipped:6", "skipped:6", "resolution:3", "skip:5", "skipped:5", "resolution:3"), kinds)
        // a skipped step decodes nothing and runs nothing
        assertEquals(4 * 2, sc.log.size)
        assertTrue(sc.log.all { it == "frame:84" || it == "policy" })
    }

    @Test
    fun skipOfOneFrameHasNoSkippedSteps() {
        val sc = Scripted(listOf(4 to onehot(1), 3 to onehot(1)))
        val s = Streamer(m, sc.runners())
        assertEquals(EventKind.SKIP, s.step(sc.frames).kind)
        assertEquals(EventKind.RESOLUTION, s.step(sc.frames).kind)
    }

    @Test
    fun resolutionActionsRunTheRightBackboneAtTheRightSize() {
        val sc = Scripted(listOf(0 to onehot(1), 1 to onehot(1), 2 to onehot(1), 3 to onehot(1)))
        val s = Streamer(m, sc.runners())
        val ev = (0 until 4).map { s.step(sc.frames) }
        assertEquals(listOf(224, 168, 112, 84), ev.map { it.size })
        assertEquals(listOf("backbone_224", "backbone_168", "backbone_112", null), ev.map { it.backbone })
        assertEquals(listOf("frame:84", "policy", "frame:224", "backbone_224", "frame:84", "policy", "frame:168", "backbone_168",
            "frame:84", "policy", "frame:112", "backbone_112", "frame:84", "policy"), sc.log)
        // lowest resolution: the policy's own class logits are the window entry
        assertArrayEquals(onehot(1), ev[3].classLogits, 0f)
        assertArrayEquals(onehot(0), ev[0].classLogits, 0f)
        assertEquals(0.25 + 1.5, ev[0].gmacs, 0.0)
        assertEquals(0.25, ev[3].gmacs, 0.0)
    }

    @Test
    fun stateIsCarriedAndClearedToZeros() {
        val seen = ArrayList<FloatArray>()
        val policy = object : ModelRunner {
            override val artifactId = "policy"
            override fun run(inputs: Map<String, Any>): Map<String, FloatArray> {
                val h = inputs["h"] as FloatArray
                seen.add(h.copyOf())
                val logits = FloatArray(7).also { it[3] = 1f }
                return mapOf("action_logits" to logits, "class_logits" to FloatArray(5), "h" to h.map { it + 1f }.toFloatArray(),
                    "c" to (inputs["c"] as FloatArray).map { it - 1f }.toFloatArray())
            }
        }
        val sc = Scripted(emptyList())
        val s = Streamer(m, sc.runners() + ("policy" to policy))
        repeat(3) { s.step(sc.frames) }
        s.clear()
        s.step(sc.frames)
        assertEquals(listOf(0f, 1f, 2f, 0f), seen.map { it[0] })
    }

    @Test
    fun windowMeanSoftmaxAndNoScoresWhenEmpty() {
        // W = 4: two processed frames then 4-frame skip: scores persist 2 more steps, then none
        val a = floatArrayOf(1f, 0f, 0f, 0f, 0f)
        val b = floatArrayOf(0f, 3f, 0f, 0f, 0f)
        val sc = Scripted(listOf(3 to a, 3 to b, 6 to a, 3 to a))
        val s = Streamer(m, sc.runners())
        val e1 = s.step(sc.frames)
        val e2 = s.step(sc.frames)
        val mean = doubleArrayOf(0.5, 1.5, 0.0, 0.0, 0.0)
        val z = mean.map { exp(it - 1.5) }
        val want = z.map { it / z.sum() }
        assertArrayEquals(want.toDoubleArray(), e2.scores, 1e-15)
        assertEquals(listOf(1, 0, 2), e2.top.map { it.index }) // ties (2,3,4) by lower index
        assertEquals(3, e2.top.size)
        val e3 = s.step(sc.frames) // skip: empty entry
        val e4 = s.step(sc.frames)
        val e5 = s.step(sc.frames) // window = [a?] -> [b, skip, skipped, skipped]
        assertTrue(e3.scores != null && e4.scores != null && e5.scores != null)
        val e6 = s.step(sc.frames) // [skip, skipped, skipped, skipped]: no scores, label held
        assertNull(e6.scores)
        assertEquals(emptyList<Scored>(), e6.top)
        assertEquals("wave", e1.label)
        assertEquals("clap", e4.label) // margin held on e2 and e3 (hold 2)
        assertEquals(e5.label, e6.label) // no scores: label held
    }

    @Test
    fun hysteresisNeedsMarginForHoldSteps() {
        val h = Hysteresis(0.1, 2)
        assertEquals(-1, h.update(null))
        assertEquals(0, h.update(doubleArrayOf(0.6, 0.4)))
        assertEquals(0, h.update(doubleArrayOf(0.3, 0.7)))   // candidate 1, count 1
        assertEquals(0, h.update(null))                      // unscored step: nothing changes
        assertEquals(1, h.update(doubleArrayOf(0.3, 0.7)))   // count 2 -> switch
        assertEquals(1, h.update(doubleArrayOf(0.54, 0.46))) // X=0 but diff 0.08 < margin
        assertEquals(1, h.update(doubleArrayOf(0.7, 0.3)))   // count 1
        assertEquals(1, h.update(doubleArrayOf(0.4, 0.6)))   // top1 == D resets
        assertEquals(1, h.update(doubleArrayOf(0.7, 0.3)))   // count 1 again
        assertEquals(0, h.update(doubleArrayOf(0.7, 0.3)))   // switch
        // candidate change restarts the count at 1
        val g = Hysteresis(0.1, 2)
        g.update(doubleArrayOf(0.8, 0.1, 0.1))
        assertEquals(0, g.update(doubleArrayOf(0.1, 0.2, 0.7)))
        assertEquals(0, g.update(doubleArrayOf(0.1, 0.7, 0.2)))
        assertEquals(1, g.update(doubleArrayOf(0.1, 0.7, 0.2)))
        g.clear()
        assertEquals(2, g.update(doubleArrayOf(0.1, 0.2, 0.7)))
        // margin 0, hold 1 = raw top-1
        val raw = Hysteresis(0.0, 1)
        for (sc in listOf(doubleArrayOf(0.2, 0.8), doubleArrayOf(0.51, 0.49), doubleArrayOf(0.5, 0.5), doubleArrayOf(0.4, 0.6))) {
            assertEquals(topK(sc, 1)[0], raw.update(sc))
        }
    }

    @Test
    fun topKOrdersByScoreThenIndex() {
        assertArrayEquals(intArrayOf(2, 0, 3), topK(doubleArrayOf(0.2, 0.1, 0.5, 0.2), 3))
        assertArrayEquals(intArrayOf(0, 1), topK(doubleArrayOf(0.5, 0.5), 5))
        assertEquals(1, argmax(doubleArrayOf(0.0, 2.0, 2.0)))
    }

    @Test
    fun multiLabelUsesSigmoid() {
        val d = handmadeManifestJson().put("multi_label", true)
        val mm = Manifest.fromJson(d)
        val w = WindowScorer(2, 5, mm.multiLabel)
        w.push(floatArrayOf(0f, 1f, -1f, 2f, 0f))
        val sc = w.scores()!!
        assertEquals(0.5, sc[0], 1e-15)
        assertEquals(1 / (1 + exp(-2.0)), sc[3], 1e-15)
    }

    @Test
    fun budgetBiasChangesTheDecision() {
        // logits favour 224 by 0.5 over 84; b_0 = 1, b_3 = 0.25/1.75
        val policy = object : ModelRunner {
            override val artifactId = "policy"
            override fun run(inputs: Map<String, Any>) = mapOf(
                "action_logits" to floatArrayOf(1.5f, 0f, 0f, 1f, -9f, -9f, -9f), "class_logits" to FloatArray(5),
                "h" to FloatArray(4), "c" to FloatArray(4))
        }
        val sc = Scripted(emptyList())
        val s = Streamer(m, sc.runners() + ("policy" to policy))
        assertEquals(0, s.step(sc.frames).action)
        s.lambda = 0.5
        assertEquals(0, s.step(sc.frames).action)   // 1.5 - 0.5 = 1.0 > 1 - 0.0714...
        s.lambda = 1.0
        val e = s.step(sc.frames)
        assertEquals(3, e.action)                   // 0.5 < 1 - 0.142857
        assertEquals(1.0, e.lambda, 0.0)
        try { s.lambda = -1.0; fail("negative lambda accepted") } catch (_: IllegalArgumentException) {}
    }

    @Test
    fun normalizedCostsAmortiseSkips() {
        val b = Budget.normalizedCosts(m)
        val cost = doubleArrayOf(1.75, 1.0, 0.625, 0.25, 0.25, 0.125, 0.0625)
        assertArrayEquals(cost.map { it / 1.75 }.toDoubleArray(), b, 0.0)
        val ms = Budget.normalizedCosts(m, doubleArrayOf(10.0, 5.0, 2.0, 1.0, 1.0, 1.0, 1.0))
        assertArrayEquals(doubleArrayOf(1.0, 0.5, 0.2, 0.1, 0.1, 0.05, 0.025), ms, 1e-15)
    }

    @Test
    fun predictClipFallsBackToPolicyLogitsWhenEverythingIsSkipped() {
        val sc = Scripted(listOf(4 to onehot(2), 5 to onehot(4)))
        val s = Streamer(m, sc.runners())
        val scores = s.predictClip(List(3) { sc.frames })
        val want = WindowScorer.softmax(doubleArrayOf(0.0, 0.0, 1.0, 0.0, 1.0))
        assertArrayEquals(want, scores, 1e-15)
        // processed frames win over the fallback; W = T regardless of options.window
        val sc2 = Scripted(listOf(3 to onehot(1), 4 to onehot(2), 3 to onehot(1), 3 to onehot(3), 3 to onehot(3), 3 to onehot(3)))
        val s2 = Streamer(m, sc2.runners(), StreamOptions(window = 2))
        val sc2scores = s2.predictClip(List(6) { sc2.frames })
        val mean = doubleArrayOf(0.0, 0.8, 0.0, 1.2, 0.0)
        assertArrayEquals(WindowScorer.softmax(mean), sc2scores, 1e-15)
    }

    @Test
    fun refusesMissingRunnersAndBadOptions() {
        val sc = Scripted(emptyList())
        try { Streamer(m, mapOf("policy" to sc.policy)); fail() } catch (e: IllegalArgumentException) {
            assertTrue(e.message!!, e.message!!.contains("backbone_224"))
        }
        try { Streamer(m, sc.runners(), StreamOptions(window = 0)); fail() } catch (e: IllegalArgumentException) {
            assertTrue(e.message!!, e.message!!.contains("options.window"))
        }
        try { Streamer(m, sc.runners(), StreamOptions(hold = 0)); fail() } catch (_: IllegalArgumentException) {}
    }
}
