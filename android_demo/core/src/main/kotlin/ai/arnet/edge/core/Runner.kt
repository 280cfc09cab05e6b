package ai.arnet.edge.core

import java.io.InputStream
import java.nio.ByteBuffer
import java.security.MessageDigest

/**
 * One exported model, by tensor role. Inputs: `"frame"` -> [RgbFrame] (uint8 RGB HWC at the
 * artifact's resolution), `"h"`, `"c"` -> FloatArray (real values). Outputs: `"action_logits"`,
 * `"class_logits"`, `"h"`, `"c"` -> FloatArray (real values, dequantised).
 */
interface ModelRunner : AutoCloseable {
    val artifactId: String
    fun run(inputs: Map<String, Any>): Map<String, FloatArray>
    override fun close() {}
}

/** An interpreter reduced to buffers (the LiteRT adapter implements this; tests fake it). */
interface TensorEngine : AutoCloseable {
    /** Quant params the model file declares for a tensor, used where the manifest has none. */
    fun modelQuant(spec: TensorSpec, isInput: Boolean): QuantParams? = null

    /** Run once: read every input buffer, fill every output buffer (all rewound, native order). */
    fun invoke(inputs: Map<TensorSpec, ByteBuffer>, outputs: Map<TensorSpec, ByteBuffer>)

    override fun close() {}
}

/**
 * [ModelRunner] over a [TensorEngine]: encodes inputs per the manifest's tensor specs (dtype,
 * layout, quant: the model's own params first, else the manifest's; the float state is quantised
 * again on every step for an int8 policy) and decodes outputs to floats. Buffers, frame lookup
 * tables and quant params are resolved once, when the runner is made (so it fails early).
 */
class TensorRunner(
    val artifact: Artifact,
    private val norm: Normalization,
    private val engine: TensorEngine,
) : ModelRunner {
    override val artifactId: String get() = artifact.id
    private val inBufs = artifact.inputs.associateWith { TensorCodec.allocate(it) }
    private val outBufs = artifact.outputs.associateWith { TensorCodec.allocate(it) }
    private val inQuant = artifact.inputs.associateWith { TensorCodec.resolveQuant(it, engine.modelQuant(it, true)) }
    private val outQuant = artifact.outputs.associateWith { TensorCodec.resolveQuant(it, engine.modelQuant(it, false)) }
    private val frameEncoders = artifact.inputs.filter { it.role == "frame" }.associateWith { FrameEncoder(it, norm, inQuant[it]) }

    override fun run(inputs: Map<String, Any>): Map<String, FloatArray> {
        for ((spec, buf) in inBufs) {
            val v = inputs[spec.role] ?: throw IllegalArgumentException("${artifact.id}: missing input '${spec.role}'")
            when (v) {
                is RgbFrame -> frameEncoders.getValue(spec).encode(v, buf)
                is FloatArray -> TensorCodec.encode(spec, v, buf, inQuant[spec])
                else -> throw IllegalArgumentException("${artifact.id}: input '${spec.role}' must be RgbFrame or FloatArray")
            }
        }
        engine.invoke(inBufs, outBufs)
        return outBufs.entries.associate { (spec, buf) -> spec.role to TensorCodec.decode(spec, buf, outQuant[spec]) }
    }

    override fun close() = engine.close()
}

fun sha256Hex(input: InputStream): String {
    val md = MessageDigest.getInstance("SHA-256")
    val buf = ByteArray(1 shl 16)
    while (true) {
        val n = input.read(buf)
        if (n < 0) break
        md.update(buf, 0, n)
    }
    return md.digest().joinToString("") { "%02x".format(it) }
}

/**
 * Which artifacts a device runs, and whether the manifest can be satisfied at all. A device app
 * calls [plan] before building interpreters and shows [ManifestError.message] when it throws.
 */
object Deployment {
    /** Precisions for which every required artifact exists for [backend]/[format] (files not checked). */
    fun precisions(m: Manifest, backend: String = "litert", format: String = "tflite"): List<String> =
        PRECISIONS.filter { p ->
            m.requiredArtifactIds().all { id -> m.artifacts.any { it.id == id && it.backend == backend && it.precision == p && it.format == format } }
        }

    /**
     * The artifacts (by id) to run at [precision]. Refuses, listing every problem: a missing
     * artifact or file, shapes that disagree with the manifest (frame size, hidden, number of
     * actions/classes), a backbone id of "policy" above the lowest resolution.
     */
    fun plan(
        m: Manifest,
        precision: String,
        backend: String = "litert",
        format: String = "tflite",
        fileExists: (String) -> Boolean = { true },
    ): Map<String, Artifact> {
        val problems = ArrayList<String>()
        val L = m.numResolutions
        for (a in 0 until L - 1) {
            if (m.actions[a].backbone == "policy") {
                problems.add("${m.where}.actions[$a].backbone: 'policy' is only valid for the lowest resolution (action ${L - 1})")
            }
        }
        val out = LinkedHashMap<String, Artifact>()
        for (id in m.requiredArtifactIds()) {
            val art = m.artifacts.firstOrNull { it.id == id && it.backend == backend && it.precision == precision && it.format == format }
            if (art == null) {
                val have = m.artifacts.filter { it.id == id }.map { "${it.backend}/${it.precision}/${it.format}" }
                problems.add("${m.where}: no artifact '$id' for $backend/$precision/$format (have: ${if (have.isEmpty()) "none" else have.joinToString()})")
                continue
            }
            val i = m.artifacts.indexOf(art)
            val w = "${m.where}.artifacts[$i]"
            if (!fileExists(art.file)) problems.add("$w.file: '${art.file}' is missing next to the manifest; re-run `python convert/export_all.py`")
            val frame = art.input("frame")
            val fs = if (frame.layout == "NHWC") listOf(frame.shape[1], frame.shape[2], frame.shape[3]) else listOf(frame.shape[2], frame.shape[3], frame.shape[1])
            val want = if (id == "policy") m.policyResolution else m.actions.first { it.backbone == id }.size!!
            if (fs != listOf(want, want, 3)) problems.add("$w.inputs: frame tensor ${frame.layout} ${frame.shape} does not match resolution $want")
            if (art.resolution != want) problems.add("$w.resolution: expected $want, got ${art.resolution}")
            val cl = art.output("class_logits")
            if (cl.elements != m.numClasses) problems.add("$w.outputs: class_logits has ${cl.elements} values, manifest has ${m.numClasses} labels")
            if (id == "policy") {
                val al = art.output("action_logits")
                if (al.elements != m.numActions) problems.add("$w.outputs: action_logits has ${al.elements} values, manifest has ${m.numActions} actions")
                for (r in listOf("h", "c")) {
                    if (art.input(r).elements != m.hidden) problems.add("$w.inputs: $r has ${art.input(r).elements} values, policy.hidden is ${m.hidden}")
                    if (art.output(r).elements != m.hidden) problems.add("$w.outputs: $r has ${art.output(r).elements} values, policy.hidden is ${m.hidden}")
                }
            }
            out[id] = art
        }
        if (problems.isNotEmpty()) throw ManifestError(problems.joinToString("\n"))
        return out
    }
}
