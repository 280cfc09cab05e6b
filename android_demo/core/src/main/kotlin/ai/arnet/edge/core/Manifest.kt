package ai.arnet.edge.core

import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject
import org.json.JSONTokener

/**
 * The manifest (schema 1): the one contract between export (`convert/`) and devices.
 *
 * This is a line-by-line port of `edge_runtime/manifest.py` (`Manifest.from_dict` and the
 * `TensorSpec` / `Artifact` parsers): it accepts exactly what the Python validator accepts and
 * rejects what it rejects, in the same order, with a message that starts with the same dotted
 * field path (`manifest.json.artifacts[0].inputs[1].dtype: ...`). Python quirks are kept on
 * purpose (e.g. `true` counts as the integer 1 inside `resolutions`, as `isinstance(True, int)`
 * does); `src/test/resources/manifest_cases.json`, generated from the Python validator by
 * `tools/gen_manifest_cases.py`, pins the parity.
 */
class ManifestError(message: String) : IllegalArgumentException(message) {
    /** The dotted field path the message starts with (everything before the first ": "). */
    val field: String get() = message!!.substringBefore(": ")
}

const val SCHEMA_VERSION = 1
const val MANIFEST_NAME = "manifest.json"

val FORMATS = listOf("tflite", "onnx", "pte", "pt2")
val BACKENDS = listOf("litert", "onnxruntime", "executorch", "torch")
val PRECISIONS = listOf("fp32", "fp16", "int8")
val ARTIFACT_ROLES = listOf("policy", "backbone")
val LAYOUTS = listOf("NHWC", "NCHW", "NC", "N")
val DTYPES = listOf("uint8", "int8", "float32", "float16", "int32", "int64")
val INPUT_ROLES = listOf("frame", "h", "c")
val OUTPUT_ROLES = listOf("action_logits", "class_logits", "h", "c")

/** Integer tensor quantisation: real = scale * (q - zeroPoint). */
data class QuantParams(val scale: Double, val zeroPoint: Long)

data class TensorSpec(
    val name: String,
    val role: String,
    val shape: List<Int>,
    val dtype: String,
    val layout: String,
    val quant: QuantParams? = null,
) {
    /** Number of elements. */
    val elements: Int get() = shape.fold(1) { a, b -> a * b }
}

data class Artifact(
    val id: String,
    val role: String,
    val resolution: Int,
    val format: String,
    val backend: String,
    val precision: String,
    val file: String,
    val sha256: String,
    val bytes: Long,
    val inputs: List<TensorSpec>,
    val outputs: List<TensorSpec>,
    val signature: String? = null,
) {
    fun input(role: String): TensorSpec = inputs.first { it.role == role }
    fun output(role: String): TensorSpec = outputs.first { it.role == role }
}

data class Action(
    val kind: String,          // "resolution" | "skip"
    val size: Int? = null,     // resolution actions
    val backbone: String? = null, // artifact id; "policy" for the lowest resolution
    val frames: Int? = null,   // skip actions: this frame and frames-1 more
) {
    val isSkip: Boolean get() = kind == "skip"
}

data class Normalization(
    val mean: List<Double>,
    val std: List<Double>,
    val folded: Boolean,
    val color: String?,
    /** `edge_runtime/preprocess.py` rule: "area" (absent = "area") or "pyramid"; see [ImageOps.resize]. */
    val resize: String,
)

data class Costs(
    val unit: String?,
    val policyStep: Double,
    val actions: List<Double>,
    val uniformPerFrame: Double,
)

data class Sampling(val framesPerClip: Int, val secondsPerStep: Double)

class Manifest(
    val schema: Int,
    val name: String,
    val labels: List<String>,
    val multiLabel: Boolean,
    val resolutions: List<Int>,
    val skipLengths: List<Int>,
    val actions: List<Action>,
    val normalization: Normalization,
    val policyResolution: Int,
    val hidden: Int,
    val costs: Costs,
    val sampling: Sampling,
    val artifacts: List<Artifact>,
    /** The parsed JSON, untouched (validation/training/extra fields live here). */
    val raw: JSONObject,
    /** Where it was read from, for error messages ("manifest.json" by default). */
    val where: String = MANIFEST_NAME,
) {
    val numResolutions: Int get() = resolutions.size
    val numActions: Int get() = actions.size
    val numClasses: Int get() = labels.size

    /** GMACs of a decision step taking action [a] (policy step included; skipped frames cost 0). */
    fun actionCost(a: Int): Double = costs.policyStep + costs.actions[a]

    val uniformCost: Double get() = costs.uniformPerFrame

    fun backends(): List<String> = artifacts.map { it.backend }.toSortedSet().toList()

    fun precisions(backend: String): List<String> =
        artifacts.filter { it.backend == backend }.map { it.precision }.toSortedSet().toList()

    fun find(artifactId: String, backend: String, precision: String): Artifact {
        artifacts.firstOrNull { it.id == artifactId && it.backend == backend && it.precision == precision }
            ?.let { return it }
        val have = artifacts.filter { it.id == artifactId }.map { "(${Py.repr(it.backend)}, ${Py.repr(it.precision)})" }
            .toSortedSet()
        throw ManifestError(
            "$where: no artifact ${Py.repr(artifactId)} for backend=${Py.repr(backend)} " +
                "precision=${Py.repr(precision)}; available (backend, precision): $have")
    }

    /** Artifact ids a device must be able to run: the policy and every backbone of actions 0..L-2. */
    fun requiredArtifactIds(): List<String> {
        val ids = linkedSetOf("policy")
        for (a in 0 until numResolutions - 1) ids.add(actions[a].backbone!!)
        return ids.toList()
    }

    companion object {
        /** Parse and validate manifest JSON text; [where] prefixes every error (a path). */
        @JvmStatic
        @JvmOverloads
        fun parse(text: String, where: String = MANIFEST_NAME): Manifest {
            val value: Any? = try {
                val tok = JSONTokener(text)
                val v = tok.nextValue()
                if (tok.nextClean() != '\u0000') throw JSONException("extra data after the JSON value")
                v
            } catch (e: JSONException) {
                throw ManifestError("$where: not valid JSON (${e.message})")
            }
            return fromJson(value, where)
        }

        /** Validate an already parsed JSON value (a JSONObject for a valid manifest). */
        @JvmStatic
        @JvmOverloads
        fun fromJson(d: Any?, where: String = MANIFEST_NAME): Manifest = Parser(where).manifest(d)
    }
}

/** Python-flavoured views of org.json values (what `isinstance` would say). */
internal object Py {
    fun isNull(v: Any?) = v == null || v === JSONObject.NULL
    fun isInt(v: Any?) = v is Int || v is Long || v is Short || v is Byte || v is java.math.BigInteger
    /** isinstance(v, int): bool is an int in Python. */
    fun isIntLike(v: Any?) = isInt(v) || v is Boolean
    fun isFloat(v: Any?) = v is Double || v is Float || v is java.math.BigDecimal
    /** isinstance(v, (int, float)) including bool. */
    fun isNumberLike(v: Any?) = isIntLike(v) || isFloat(v)
    fun num(v: Any?): Double = when (v) {
        is Boolean -> if (v) 1.0 else 0.0
        is Number -> v.toDouble()
        else -> throw IllegalArgumentException("not a number: $v")
    }
    fun long(v: Any?): Long = when (v) {
        is Boolean -> if (v) 1L else 0L
        is Number -> v.toLong()
        else -> throw IllegalArgumentException("not an integer: $v")
    }

    fun typeName(v: Any?): String = when {
        isNull(v) -> "NoneType"
        v is Boolean -> "bool"
        isInt(v) -> "int"
        isFloat(v) -> "float"
        v is String -> "str"
        v is JSONArray -> "list"
        v is JSONObject -> "dict"
        else -> v!!.javaClass.simpleName
    }

    /** Roughly Python's repr(), for messages only. */
    fun repr(v: Any?): String = when {
        isNull(v) -> "None"
        v is Boolean -> if (v) "True" else "False"
        v is String -> "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        v is Double -> if (v.isNaN()) "nan" else if (v.isInfinite()) (if (v > 0) "inf" else "-inf") else v.toString()
        v is JSONArray -> (0 until v.length()).joinToString(", ", "[", "]") { repr(v.opt(it)) }
        v is JSONObject -> v.keys().asSequence().map { it.toString() }.toList().joinToString(", ", "{", "}") { "'$it': ${repr(v.opt(it))}" }
        else -> v.toString()
    }

    /** Python truthiness (`bool(v)`). */
    fun truthy(v: Any?): Boolean = when {
        isNull(v) -> false
        v is Boolean -> v
        v is Number -> v.toDouble() != 0.0
        v is String -> v.isNotEmpty()
        v is JSONArray -> v.length() > 0
        v is JSONObject -> v.length() > 0
        else -> true
    }

    fun list(a: JSONArray): List<Any?> = (0 until a.length()).map { a.opt(it) }
}

/** The Python `_req` type tuples. */
private enum class T(val pyName: String) {
    INT("int"), NUM("int or float"), STR("str"), LIST("list"), DICT("dict"), BOOL("bool");

    fun matches(v: Any?): Boolean = when (this) {
        INT -> Py.isIntLike(v)
        NUM -> Py.isNumberLike(v)
        STR -> v is String
        LIST -> v is JSONArray
        DICT -> v is JSONObject
        BOOL -> v is Boolean
    }
}

private class Parser(val root: String) {
    fun fail(where: String, msg: String): Nothing = throw ManifestError("$where: $msg")

    fun req(d: Any?, key: String, where: String, t: T): Any {
        if (d !is JSONObject) fail(where, "expected an object, got ${Py.typeName(d)}")
        if (!d.has(key)) fail("$where.$key", "missing (required field)")
        val v = d.opt(key)
        if (v is Boolean && t != T.BOOL) fail("$where.$key", "expected ${t.pyName}, got a boolean")
        if (!t.matches(v)) fail("$where.$key", "expected ${t.pyName}, got ${Py.typeName(v)} ${Py.repr(v)}".take(300))
        return v!!
    }

    fun choice(v: String, choices: List<String>, where: String): String {
        if (v !in choices) fail(where, "${Py.repr(v)} is not one of ${choices.joinToString(", ", "[", "]") { Py.repr(it) }}")
        return v
    }

    /** A Python int that must also fit a Kotlin Int (absurd sizes are refused, naming the field). */
    fun int(v: Any?, where: String): Int {
        val l = Py.long(v)
        if (l < Int.MIN_VALUE || l > Int.MAX_VALUE) fail(where, "integer $l is out of range")
        return l.toInt()
    }

    fun tensor(d: Any?, where: String, roles: List<String>): TensorSpec {
        val name = req(d, "name", where, T.STR) as String
        val role = choice(req(d, "role", where, T.STR) as String, roles, "$where.role")
        val shapeRaw = req(d, "shape", where, T.LIST) as JSONArray
        val shape = Py.list(shapeRaw)
        if (shape.isEmpty() || !shape.all { Py.isInt(it) && Py.long(it) > 0 }) {
            fail("$where.shape", "expected a list of positive integers, got ${Py.repr(shapeRaw)}")
        }
        val dtype = choice(req(d, "dtype", where, T.STR) as String, DTYPES, "$where.dtype")
        val layout = choice(req(d, "layout", where, T.STR) as String, LAYOUTS, "$where.layout")
        val qRaw = (d as JSONObject).opt("quant")
        var quant: QuantParams? = null
        if (!Py.isNull(qRaw)) {
            val ok = qRaw is JSONObject && Py.isNumberLike(qRaw.opt("scale")) && Py.isIntLike(qRaw.opt("zero_point"))
            if (!ok) fail("$where.quant", "expected {'scale': float, 'zero_point': int}, got ${Py.repr(qRaw)}")
            qRaw as JSONObject
            quant = QuantParams(Py.num(qRaw.opt("scale")), Py.long(qRaw.opt("zero_point")))
        }
        if (role == "frame") {
            if (layout !in listOf("NHWC", "NCHW") || shape.size != 4) {
                fail(where, "a frame tensor needs a 4-D NHWC or NCHW shape, got $layout ${Py.repr(shapeRaw)}")
            }
        }
        return TensorSpec(name, role, shape.mapIndexed { i, s -> int(s, "$where.shape[$i]") }, dtype, layout, quant)
    }

    fun artifact(d: Any?, where: String): Artifact {
        val ins = Py.list(req(d, "inputs", where, T.LIST) as JSONArray)
            .mapIndexed { i, t -> tensor(t, "$where.inputs[$i]", INPUT_ROLES) }
        val outs = Py.list(req(d, "outputs", where, T.LIST) as JSONArray)
            .mapIndexed { i, t -> tensor(t, "$where.outputs[$i]", OUTPUT_ROLES) }
        val role = choice(req(d, "role", where, T.STR) as String, ARTIFACT_ROLES, "$where.role")
        val needIn = if (role == "policy") sortedSetOf("frame", "h", "c") else sortedSetOf("frame")
        val needOut = if (role == "policy") sortedSetOf("action_logits", "class_logits", "h", "c") else sortedSetOf("class_logits")
        val haveIn = ins.map { it.role }.toSortedSet()
        val haveOut = outs.map { it.role }.toSortedSet()
        if (haveIn != needIn) fail("$where.inputs", "a $role artifact needs input roles ${pyList(needIn)}, got ${pyList(haveIn)}")
        if (haveOut != needOut) fail("$where.outputs", "a $role artifact needs output roles ${pyList(needOut)}, got ${pyList(haveOut)}")
        val sha = req(d, "sha256", where, T.STR) as String
        if (sha.length != 64 || sha.any { it !in "0123456789abcdef" }) {
            fail("$where.sha256", "expected 64 lowercase hex digits, got ${Py.repr(sha)}")
        }
        val id = req(d, "id", where, T.STR) as String
        val resolution = int(req(d, "resolution", where, T.INT), "$where.resolution")
        val format = choice(req(d, "format", where, T.STR) as String, FORMATS, "$where.format")
        val backend = choice(req(d, "backend", where, T.STR) as String, BACKENDS, "$where.backend")
        val precision = choice(req(d, "precision", where, T.STR) as String, PRECISIONS, "$where.precision")
        val file = req(d, "file", where, T.STR) as String
        val bytes = Py.long(req(d, "bytes", where, T.INT))
        val sig = (d as JSONObject).opt("signature")
        return Artifact(id, role, resolution, format, backend, precision, file, sha, bytes, ins, outs,
            signature = if (Py.isNull(sig)) null else sig.toString())
    }

    fun pyList(s: Collection<String>) = s.joinToString(", ", "[", "]") { Py.repr(it) }

    fun manifest(d: Any?): Manifest {
        val where = root
        if (d !is JSONObject) fail(where, "expected a JSON object at the top level, got ${Py.typeName(d)}")
        val schema = int(req(d, "schema", where, T.INT), "$where.schema")
        if (schema != SCHEMA_VERSION) {
            fail("$where.schema", "unsupported schema version $schema; this runtime reads schema $SCHEMA_VERSION")
        }
        val labelsRaw = req(d, "labels", where, T.LIST) as JSONArray
        val labels = Py.list(labelsRaw)
        if (labels.isEmpty() || !labels.all { it is String }) fail("$where.labels", "expected a non-empty list of strings")

        val resRaw = req(d, "resolutions", where, T.LIST) as JSONArray
        val resL = Py.list(resRaw)
        if (resL.isEmpty() || !resL.all { Py.isIntLike(it) && Py.long(it) > 0 }) {
            fail("$where.resolutions", "expected positive integers, got ${Py.repr(resRaw)}")
        }
        val res = resL.mapIndexed { i, r -> int(r, "$where.resolutions[$i]") }
        if (res.zipWithNext().any { (a, b) -> a <= b }) {
            fail("$where.resolutions", "must be strictly decreasing (s_0 > ... > s_L-1), got $res")
        }
        val skRaw = req(d, "skip_lengths", where, T.LIST) as JSONArray
        val skL = Py.list(skRaw)
        if (!skL.all { Py.isIntLike(it) && Py.long(it) > 0 } ||
            skL.zipWithNext().any { (a, b) -> Py.long(a) >= Py.long(b) }) {
            fail("$where.skip_lengths", "expected strictly increasing positive integers, got ${Py.repr(skRaw)}")
        }
        val skips = skL.mapIndexed { i, f -> int(f, "$where.skip_lengths[$i]") }

        val actsRaw = Py.list(req(d, "actions", where, T.LIST) as JSONArray)
        if (actsRaw.size != res.size + skips.size) {
            fail("$where.actions", "expected ${res.size} resolution + ${skips.size} skip actions " +
                "= ${res.size + skips.size}, got ${actsRaw.size}")
        }
        val actions = ArrayList<Action>()
        for ((i, a) in actsRaw.withIndex()) {
            val w = "$where.actions[$i]"
            val kind = choice(req(a, "kind", w, T.STR) as String, listOf("resolution", "skip"), "$w.kind")
            if (i < res.size) {
                if (kind != "resolution" || Py.long(req(a, "size", w, T.INT)) != res[i].toLong()) {
                    fail(w, "expected {'kind': 'resolution', 'size': ${res[i]}}, got ${Py.repr(a)}")
                }
                actions.add(Action("resolution", size = res[i], backbone = req(a, "backbone", w, T.STR) as String))
            } else {
                val f = skips[i - res.size]
                if (kind != "skip" || Py.long(req(a, "frames", w, T.INT)) != f.toLong()) {
                    fail(w, "expected {'kind': 'skip', 'frames': $f}, got ${Py.repr(a)}")
                }
                actions.add(Action("skip", frames = f))
            }
        }

        val norm = req(d, "normalization", where, T.DICT) as JSONObject
        val ms = HashMap<String, List<Double>>()
        for (k in listOf("mean", "std")) {
            val vRaw = req(norm, k, "$where.normalization", T.LIST) as JSONArray
            val v = Py.list(vRaw)
            if (v.size != 3 || !v.all { Py.isNumberLike(it) }) {
                fail("$where.normalization.$k", "expected 3 numbers, got ${Py.repr(vRaw)}")
            }
            ms[k] = v.map { Py.num(it) }
        }
        val folded = req(norm, "folded", "$where.normalization", T.BOOL) as Boolean
        val resizeRaw: Any? = if (norm.has("resize")) norm.get("resize") else "area"
        if (resizeRaw !is String || resizeRaw !in ImageOps.RESIZE_METHODS) {
            fail("$where.normalization.resize",
                "expected one of ${pyList(ImageOps.RESIZE_METHODS)}, got ${Py.repr(resizeRaw)}")
        }

        val pol = req(d, "policy", where, T.DICT) as JSONObject
        val pres = req(pol, "resolution", "$where.policy", T.INT)
        if (Py.long(pres) != res.last().toLong()) {
            fail("$where.policy.resolution", "must equal the lowest resolution ${res.last()}, got ${Py.repr(pres)}")
        }
        val hidden = int(req(pol, "hidden", "$where.policy", T.INT), "$where.policy.hidden")

        val costs = req(d, "costs", where, T.DICT) as JSONObject
        val policyStep = Py.num(req(costs, "policy_step", "$where.costs", T.NUM))
        val caRaw = req(costs, "actions", "$where.costs", T.LIST) as JSONArray
        val ca = Py.list(caRaw)
        if (ca.size != actions.size || !ca.all { Py.isNumberLike(it) && Py.num(it) >= 0 }) {
            fail("$where.costs.actions", "expected ${actions.size} non-negative GMACs (one per action), got ${Py.repr(caRaw)}")
        }
        val uniform = Py.num(req(costs, "uniform_per_frame", "$where.costs", T.NUM))

        val samp = req(d, "sampling", where, T.DICT) as JSONObject
        val fpc = int(req(samp, "frames_per_clip", "$where.sampling", T.INT), "$where.sampling.frames_per_clip")
        val sps = Py.num(req(samp, "seconds_per_step", "$where.sampling", T.NUM))
        if (!(sps > 0)) fail("$where.sampling.seconds_per_step", "must be > 0, got $sps")

        val arts = Py.list(req(d, "artifacts", where, T.LIST) as JSONArray)
            .mapIndexed { i, a -> artifact(a, "$where.artifacts[$i]") }
        val validIds = sortedSetOf("policy").apply { actions.filter { !it.isSkip }.forEach { add(it.backbone!!) } }
        for ((i, a) in arts.withIndex()) {
            if (a.id !in validIds) fail("$where.artifacts[$i].id", "${Py.repr(a.id)} is not one of ${pyList(validIds)}")
        }
        val name = req(d, "name", where, T.STR) as String
        return Manifest(
            schema = schema, name = name, labels = labels.map { it as String },
            multiLabel = Py.truthy(d.opt("multi_label")),
            resolutions = res, skipLengths = skips, actions = actions,
            normalization = Normalization(ms["mean"]!!, ms["std"]!!, folded,
                norm.opt("color") as? String, resizeRaw),
            policyResolution = res.last(), hidden = hidden,
            costs = Costs(costs.opt("unit") as? String, policyStep, ca.map { Py.num(it) }, uniform),
            sampling = Sampling(fpc, sps), artifacts = arts, raw = d, where = where)
    }
}
