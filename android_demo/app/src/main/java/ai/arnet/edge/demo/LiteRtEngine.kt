package ai.arnet.edge.demo

import ai.arnet.edge.core.Artifact
import ai.arnet.edge.core.ManifestError
import ai.arnet.edge.core.QuantParams
import ai.arnet.edge.core.TensorEngine
import ai.arnet.edge.core.TensorSpec
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import java.nio.ByteBuffer

/** How interpreters are built. Changing any field rebuilds every interpreter (see MainActivity). */
data class EngineConfig(val threads: Int, val accel: Accel, val precision: String) {
    enum class Accel { CPU, XNNPACK, GPU }
}

/**
 * One LiteRT interpreter behind core's [TensorEngine]: tensors are found by the manifest's
 * names, first as inputs/outputs of the artifact's signature, else as tensor names; shapes and
 * dtypes are checked against the manifest when it is built, so a mismatch is refused up front.
 * Core's [ai.arnet.edge.core.TensorRunner] does all encoding/decoding; this only moves buffers.
 */
class LiteRtEngine(model: ByteBuffer, private val artifact: Artifact, config: EngineConfig) : TensorEngine {
    private val gpu: GpuDelegate?
    private val interpreter: Interpreter
    private val signature: String?
    private val inputIndex = HashMap<TensorSpec, Int>()
    private val outputIndex = HashMap<TensorSpec, Int>()

    init {
        val opts = Interpreter.Options().setNumThreads(config.threads)
        gpu = when (config.accel) {
            EngineConfig.Accel.CPU -> { opts.setUseXNNPACK(false); null }
            EngineConfig.Accel.XNNPACK -> { opts.setUseXNNPACK(true); null }
            EngineConfig.Accel.GPU -> {
                val compat = CompatibilityList()
                if (!compat.isDelegateSupportedOnThisDevice) {
                    throw IllegalStateException("the GPU delegate is not supported on this device")
                }
                val o = compat.bestOptionsForThisDevice
                    .setPrecisionLossAllowed(config.precision != "fp32") // fp16 maths only for non-fp32 models
                    .setQuantizedModelsAllowed(true)
                GpuDelegate(o).also { opts.addDelegate(it) }
            }
        }
        interpreter = try {
            Interpreter(model, opts)
        } catch (e: Exception) {
            gpu?.close()
            throw e
        }
        try {
            signature = resolveTensors()
            interpreter.allocateTensors()
        } catch (e: Exception) {
            close()
            throw e
        }
    }

    private val where get() = "${artifact.file} (${artifact.id})"

    /** Map every manifest tensor to the model: by signature names if they all match, else by tensor names. */
    private fun resolveTensors(): String? {
        val keys = interpreter.signatureKeys.toList()
        val sig = artifact.signature?.takeIf { it in keys } ?: keys.singleOrNull()
        if (sig != null) {
            val ins = interpreter.getSignatureInputs(sig).toSet()
            val outs = interpreter.getSignatureOutputs(sig).toSet()
            if (artifact.inputs.all { it.name in ins } && artifact.outputs.all { it.name in outs }) {
                for (s in artifact.inputs) check(s, interpreter.getInputTensorFromSignature(s.name, sig))
                for (s in artifact.outputs) check(s, interpreter.getOutputTensorFromSignature(s.name, sig))
                return sig
            }
        }
        val inNames = (0 until interpreter.inputTensorCount).associateBy { interpreter.getInputTensor(it).name() }
        val outNames = (0 until interpreter.outputTensorCount).associateBy { interpreter.getOutputTensor(it).name() }
        for (s in artifact.inputs) {
            val i = inNames[s.name] ?: throw ManifestError("$where: input '${s.name}' (${s.role}) is neither a signature " +
                "input of ${sig ?: "the model"} nor a tensor name; the model has ${inNames.keys}")
            check(s, interpreter.getInputTensor(i)); inputIndex[s] = i
        }
        for (s in artifact.outputs) {
            val i = outNames[s.name] ?: throw ManifestError("$where: output '${s.name}' (${s.role}) is neither a signature " +
                "output of ${sig ?: "the model"} nor a tensor name; the model has ${outNames.keys}")
            check(s, interpreter.getOutputTensor(i)); outputIndex[s] = i
        }
        return null
    }

    private fun check(spec: TensorSpec, t: Tensor) {
        val dt = when (t.dataType()) {
            DataType.FLOAT32 -> "float32"
            DataType.INT8 -> "int8"
            DataType.UINT8 -> "uint8"
            DataType.INT32 -> "int32"
            DataType.INT64 -> "int64"
            else -> t.dataType().toString().lowercase()
        }
        if (dt != spec.dtype || t.numElements() != spec.elements) {
            throw ManifestError("$where: tensor '${spec.name}' (${spec.role}) is $dt ${t.shape().toList()} in the model, " +
                "${spec.dtype} ${spec.shape} in the manifest; re-export")
        }
    }

    private fun tensorOf(spec: TensorSpec, isInput: Boolean): Tensor = when {
        signature != null && isInput -> interpreter.getInputTensorFromSignature(spec.name, signature)
        signature != null -> interpreter.getOutputTensorFromSignature(spec.name, signature)
        isInput -> interpreter.getInputTensor(inputIndex.getValue(spec))
        else -> interpreter.getOutputTensor(outputIndex.getValue(spec))
    }

    override fun modelQuant(spec: TensorSpec, isInput: Boolean): QuantParams? {
        val q = tensorOf(spec, isInput).quantizationParams()
        return if (q.scale > 0f) QuantParams(q.scale.toDouble(), q.zeroPoint.toLong()) else null
    }

    override fun invoke(inputs: Map<TensorSpec, ByteBuffer>, outputs: Map<TensorSpec, ByteBuffer>) {
        if (signature != null) {
            interpreter.runSignature(inputs.entries.associate { (s, b) -> s.name to (b as Any) },
                outputs.entries.associate { (s, b) -> s.name to (b as Any) }, signature)
        } else {
            val ins = arrayOfNulls<Any>(interpreter.inputTensorCount)
            for ((s, b) in inputs) ins[inputIndex.getValue(s)] = b
            val outs = HashMap<Int, Any>()
            for ((s, b) in outputs) outs[outputIndex.getValue(s)] = b
            interpreter.runForMultipleInputsOutputs(ins, outs)
        }
    }

    override fun close() {
        interpreter.close()
        gpu?.close()
    }
}
