package ai.arnet.edge.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

private fun rint(x: Double): Double = Math.rint(x) // round half to even

/** A square uint8 RGB image, HWC, row-major: `data[(y * size + x) * 3 + ch]`. */
class RgbFrame(val size: Int, val data: ByteArray) {
    init {
        require(data.size == size * size * 3) { "RgbFrame: expected ${size * size * 3} bytes for $size x $size x 3, got ${data.size}" }
    }

    fun pixel(y: Int, x: Int, ch: Int): Int = data[(y * size + x) * 3 + ch].toInt() and 0xFF
}

/**
 * Integer tensor quantisation with `quant` params: real = scale * (q - zero_point).
 *
 * Exactly what the Python runtime does (`edge_runtime/backends/base.py`), so an int8 policy's
 * state stays bit-identical across the two: quantise in float64 with round half AWAY from zero
 * (TFLite's std::round), `q = clamp(round(real / scale) + zero_point, qmin, qmax)`; dequantise in
 * float32, `(float32(q) - float32(zero_point)) * float32(scale)`. The float state `h`, `c` goes
 * through this on every step of an int8 policy.
 */
object Quant {
    fun range(dtype: String): LongRange = when (dtype) {
        "int8" -> -128L..127L
        "uint8" -> 0L..255L
        "int32" -> Int.MIN_VALUE.toLong()..Int.MAX_VALUE.toLong()
        "int64" -> Long.MIN_VALUE..Long.MAX_VALUE
        else -> throw IllegalArgumentException("no integer range for dtype $dtype")
    }

    /** Round half away from zero. */
    fun roundHalfAway(x: Double): Double = Math.signum(x) * Math.floor(Math.abs(x) + 0.5)

    fun quantize(real: Double, q: QuantParams, dtype: String): Long {
        val r = range(dtype)
        val v = roundHalfAway(real / q.scale) + q.zeroPoint
        return when {
            v.isNaN() -> q.zeroPoint.coerceIn(r)
            v <= r.first.toDouble() -> r.first
            v >= r.last.toDouble() -> r.last
            else -> v.toLong()
        }
    }

    fun dequantize(q: Long, p: QuantParams): Float = (q.toFloat() - p.zeroPoint.toFloat()) * p.scale.toFloat()

    /** Quantise a float vector to int8/uint8 bytes (two's complement for int8). */
    fun quantize(x: FloatArray, q: QuantParams, dtype: String): ByteArray =
        ByteArray(x.size) { quantize(x[it].toDouble(), q, dtype).toByte() }

    fun dequantize(b: ByteArray, q: QuantParams, dtype: String): FloatArray = FloatArray(b.size) {
        dequantize(if (dtype == "uint8") (b[it].toInt() and 0xFF).toLong() else b[it].toLong(), q)
    }

    /** What one step does to a float state that goes through an integer input: quantise, dequantise. */
    fun requantize(x: FloatArray, q: QuantParams, dtype: String): FloatArray =
        dequantize(quantize(x, q, dtype), q, dtype)
}

/** IEEE 754 half precision, round to nearest even (Java 17 has no Float.floatToFloat16). */
object Float16 {
    fun toHalf(f: Float): Short {
        val bits = java.lang.Float.floatToRawIntBits(f)
        val sign = (bits ushr 16) and 0x8000
        val exp = (bits ushr 23) and 0xFF
        var mant = bits and 0x7FFFFF
        if (exp == 0xFF) { // Inf / NaN
            return (sign or 0x7C00 or (if (mant != 0) 0x200 or (mant ushr 13) else 0)).toShort()
        }
        val e = exp - 127 + 15
        if (e >= 0x1F) return (sign or 0x7C00).toShort() // overflow -> Inf
        if (e <= 0) { // subnormal or zero
            if (e < -10) return sign.toShort()
            mant = mant or 0x800000
            val shift = 14 - e
            var h = mant ushr shift
            val rem = mant and ((1 shl shift) - 1)
            val half = 1 shl (shift - 1)
            if (rem > half || (rem == half && (h and 1) != 0)) h++
            return (sign or h).toShort()
        }
        var h = (e shl 10) or (mant ushr 13)
        val rem = mant and 0x1FFF
        if (rem > 0x1000 || (rem == 0x1000 && (h and 1) != 0)) h++ // may carry into the exponent: fine
        return (sign or h).toShort()
    }

    fun toFloat(h: Short): Float {
        val v = h.toInt() and 0xFFFF
        val sign = (v and 0x8000) shl 16
        val exp = (v ushr 10) and 0x1F
        val mant = v and 0x3FF
        val bits = when {
            exp == 0 && mant == 0 -> sign
            exp == 0 -> { // subnormal: normalise
                var m = mant
                var e = -14
                while (m and 0x400 == 0) { m = m shl 1; e-- }
                sign or ((e + 127) shl 23) or ((m and 0x3FF) shl 13)
            }
            exp == 0x1F -> sign or 0x7F800000 or (mant shl 13)
            else -> sign or ((exp - 15 + 127) shl 23) or (mant shl 13)
        }
        return java.lang.Float.intBitsToFloat(bits)
    }
}

/**
 * Tensor <-> ByteBuffer codec, by manifest [TensorSpec]: what an interpreter adapter needs so it
 * only moves buffers. Buffers are native-order (what LiteRT wants); sizes = elements x dtype size.
 */
object TensorCodec {
    val INTEGER_DTYPES = setOf("int8", "uint8", "int32", "int64")

    fun dtypeBytes(dtype: String): Int = when (dtype) {
        "uint8", "int8" -> 1
        "float16" -> 2
        "float32", "int32" -> 4
        "int64" -> 8
        else -> throw IllegalArgumentException("unknown dtype $dtype")
    }

    fun byteSize(spec: TensorSpec): Int = spec.elements * dtypeBytes(spec.dtype)

    fun allocate(spec: TensorSpec): ByteBuffer =
        ByteBuffer.allocateDirect(byteSize(spec)).order(ByteOrder.nativeOrder())

    /**
     * The quantisation a tensor is run with: the model's own params when it has them (scale > 0),
     * else the manifest's `quant`; null for float tensors (as `resolve_quant` in Python).
     */
    fun resolveQuant(spec: TensorSpec, modelQuant: QuantParams?): QuantParams? = when {
        spec.dtype !in INTEGER_DTYPES -> null
        modelQuant != null && modelQuant.scale > 0 -> modelQuant
        else -> spec.quant
    }

    private fun putInt(out: ByteBuffer, dtype: String, q: Long) {
        when (dtype) {
            "int8", "uint8" -> out.put(q.toByte())
            "int32" -> out.putInt(q.toInt())
            "int64" -> out.putLong(q)
        }
    }

    /**
     * Write real values (a state `h`/`c`) into [out] as spec.dtype; an integer tensor is quantised
     * with [quant] (see [resolveQuant]) and refused without one.
     */
    fun encode(spec: TensorSpec, values: FloatArray, out: ByteBuffer, quant: QuantParams? = spec.quant) {
        require(values.size == spec.elements) {
            "tensor '${spec.name}' (${spec.role}): expected ${spec.elements} values for shape ${spec.shape}, got ${values.size}"
        }
        out.rewind()
        when (spec.dtype) {
            "float32" -> for (v in values) out.putFloat(v)
            "float16" -> for (v in values) out.putShort(Float16.toHalf(v))
            in INTEGER_DTYPES -> {
                val q = quant ?: throw ManifestError(
                    "tensor '${spec.name}' (${spec.role}): ${spec.dtype} input without quantisation parameters " +
                        "(neither the model nor the manifest's quant gives scale/zero_point)")
                for (v in values) putInt(out, spec.dtype, Quant.quantize(v.toDouble(), q, spec.dtype))
            }
            else -> throw IllegalArgumentException("unknown dtype ${spec.dtype}")
        }
        out.rewind()
    }

    /** Read [buf] as real float32 values; integer outputs are dequantised with [quant] (raw values without one). */
    fun decode(spec: TensorSpec, buf: ByteBuffer, quant: QuantParams? = spec.quant): FloatArray {
        buf.rewind()
        val n = spec.elements
        val out = FloatArray(n)
        fun real(q: Long): Float = if (quant != null) Quant.dequantize(q, quant) else q.toFloat()
        when (spec.dtype) {
            "float32" -> for (i in 0 until n) out[i] = buf.getFloat()
            "float16" -> for (i in 0 until n) out[i] = Float16.toFloat(buf.getShort())
            "int8" -> for (i in 0 until n) out[i] = real(buf.get().toLong())
            "uint8" -> for (i in 0 until n) out[i] = real((buf.get().toInt() and 0xFF).toLong())
            "int32" -> for (i in 0 until n) out[i] = real(buf.getInt().toLong())
            "int64" -> for (i in 0 until n) out[i] = real(buf.getLong())
            else -> throw IllegalArgumentException("unknown dtype ${spec.dtype}")
        }
        buf.rewind()
        return out
    }

    /** Write a frame into a `frame` tensor; see [FrameEncoder]. */
    fun encodeFrame(spec: TensorSpec, frame: RgbFrame, norm: Normalization, out: ByteBuffer, quant: QuantParams? = spec.quant) =
        FrameEncoder(spec, norm, quant).encode(frame, out)
}

/**
 * Writes uint8 RGB frames into one `frame` tensor ([1,S,S,3] NHWC or [1,3,S,S] NCHW), like the
 * Python runtime's per-channel lookup table (`edge_runtime/backends/base.py`): with
 * `normalization.folded` the real value is the pixel value p itself (0..255); otherwise
 * `p · float32(1/(255·std)) + float32(−mean/std)` in float32 (mean/std in [0, 1] units; taken as
 * pixel units when a mean > 1 or a std > 1). Float tensors get the real value, float16 rounded to
 * nearest even; integer tensors the quantised real value, and a uint8 tensor of a folded model
 * without quant (or with quant {1, 0}) the raw bytes. Built once per tensor.
 */
class FrameEncoder(val spec: TensorSpec, norm: Normalization, quant: QuantParams?) {
    val size: Int
    private val nhwc = spec.layout == "NHWC"
    private val raw: Boolean
    private val lutF: Array<FloatArray>?   // [channel][pixel] for float tensors
    private val lutQ: Array<LongArray>?    // [channel][pixel] for integer tensors

    init {
        val (h, w, c) = if (nhwc) Triple(spec.shape[1], spec.shape[2], spec.shape[3])
        else Triple(spec.shape[2], spec.shape[3], spec.shape[1])
        require(spec.shape.size == 4 && spec.shape[0] == 1 && h == w && c == 3) {
            "tensor '${spec.name}': a frame tensor must be [1,S,S,3] NHWC or [1,3,S,S] NCHW, got ${spec.layout} ${spec.shape}"
        }
        size = h
        var scale: FloatArray? = null
        var shift: FloatArray? = null
        if (!norm.folded) {
            if (norm.std.any { it == 0.0 }) throw ManifestError("normalization.std has a zero: ${norm.std}")
            val pixelUnits = norm.mean.maxOf { Math.abs(it) } > 1.0 || norm.std.maxOrNull()!! > 1.0
            scale = FloatArray(3) { (if (pixelUnits) 1.0 / norm.std[it] else 1.0 / (255.0 * norm.std[it])).toFloat() }
            shift = FloatArray(3) { (-norm.mean[it] / norm.std[it]).toFloat() }
        }
        val real = Array(3) { ch -> FloatArray(256) { p -> if (scale == null) p.toFloat() else p.toFloat() * scale[ch] + shift!![ch] } }
        when (spec.dtype) {
            "float32", "float16" -> { raw = false; lutF = real; lutQ = null }
            "int8", "uint8", "int32" -> {
                lutF = null
                if (quant == null) {
                    if (spec.dtype == "uint8" && scale == null) { raw = true; lutQ = null }
                    else throw ManifestError("tensor '${spec.name}': ${spec.dtype} frame input without quantisation parameters" +
                        (if (scale == null) "" else " and the normalisation is not folded"))
                } else if (spec.dtype == "uint8" && scale == null && quant.scale == 1.0 && quant.zeroPoint == 0L) {
                    raw = true; lutQ = null
                } else {
                    raw = false
                    lutQ = Array(3) { ch -> LongArray(256) { p -> Quant.quantize(real[ch][p].toDouble(), quant, spec.dtype) } }
                }
            }
            else -> throw ManifestError("tensor '${spec.name}': a frame tensor of dtype ${spec.dtype} is not supported")
        }
    }

    fun encode(frame: RgbFrame, out: ByteBuffer) {
        require(frame.size == size) { "tensor '${spec.name}': frame ${frame.size}x${frame.size} does not fit ${spec.layout} ${spec.shape}" }
        out.rewind()
        val d = frame.data
        val n = size * size
        if (raw && nhwc) { out.put(d); out.rewind(); return }
        fun put(i: Int, ch: Int) {
            val p = d[i * 3 + ch].toInt() and 0xFF
            when {
                raw -> out.put(p.toByte())
                lutF != null -> if (spec.dtype == "float32") out.putFloat(lutF[ch][p]) else out.putShort(Float16.toHalf(lutF[ch][p]))
                else -> { val q = lutQ!![ch][p]; if (spec.dtype == "int32") out.putInt(q.toInt()) else out.put(q.toByte()) }
            }
        }
        if (nhwc) { for (i in 0 until n) for (ch in 0 until 3) put(i, ch) }
        else { for (ch in 0 until 3) for (i in 0 until n) put(i, ch) }
        out.rewind()
    }
}

/**
 * The device-side preprocessing of `edge_runtime/preprocess.py`: centre-crop a camera frame to a
 * square, resize it to each branch size with the manifest's rule ([resize]), uint8 RGB HWC.
 * Pure Kotlin (no Bitmap).
 */
object ImageOps {
    /** The manifest's `normalization.resize` values, as `edge_runtime.preprocess.RESIZE_METHODS`. */
    val RESIZE_METHODS = listOf("area", "pyramid")

    /** Resize with a manifest rule: "area" ([resizeArea]) or "pyramid" ([resizePyramid]). */
    fun resize(src: RgbFrame, size: Int, method: String): RgbFrame = when (method) {
        "area" -> resizeArea(src, size)
        "pyramid" -> resizePyramid(src, size)
        else -> throw IllegalArgumentException(
            "resize=${Py.repr(method)} is not one of ${RESIZE_METHODS.joinToString(", ", "[", "]") { Py.repr(it) }}")
    }

    /**
     * `preprocess.resize_image(..., "pyramid")`: halve (2x2 mean, `(a+b+c+d+2) >> 2` like OpenCV's
     * INTER_AREA fast path; an odd side drops its last row/column) while the image is at least
     * twice the target, then one bilinear step ([resizeLinear]).
     */
    fun resizePyramid(src: RgbFrame, size: Int): RgbFrame {
        var img = src
        while (img.size >= 2 * size) img = halve(img)
        return if (img.size == size) img else resizeLinear(img, size)
    }

    /** 2x2 mean of the even part of a square frame. */
    fun halve(src: RgbFrame): RgbFrame {
        val n = src.size / 2
        val s = src.size
        val d = src.data
        val out = ByteArray(n * n * 3)
        for (y in 0 until n) for (x in 0 until n) for (ch in 0 until 3) {
            val p = ((2 * y) * s + 2 * x) * 3 + ch
            val q = p + s * 3
            val sum = (d[p].toInt() and 0xFF) + (d[p + 3].toInt() and 0xFF) +
                (d[q].toInt() and 0xFF) + (d[q + 3].toInt() and 0xFF)
            out[(y * n + x) * 3 + ch] = ((sum + 2) shr 2).toByte()
        }
        return RgbFrame(n, out)
    }

    /** Source index and weight of the right neighbour, OpenCV INTER_LINEAR's sampling grid. */
    private fun linearTable(src: Int, dst: Int): Array<Pair<Int, Double>> {
        val scale = src.toDouble() / dst
        return Array(dst) { d ->
            val f = (d + 0.5) * scale - 0.5
            var i = kotlin.math.floor(f).toInt()
            var w = f - i
            if (i < 0) { i = 0; w = 0.0 }
            if (i >= src - 1) { i = src - 1; w = 0.0 }
            i to w
        }
    }

    /** Bilinear resize on OpenCV INTER_LINEAR's grid (within 1 LSB of its fixed-point result). */
    fun resizeLinear(src: RgbFrame, size: Int): RgbFrame {
        if (src.size == size) return RgbFrame(size, src.data.copyOf())
        val tab = linearTable(src.size, size)
        val s = src.size
        val d = src.data
        fun px(y: Int, x: Int, ch: Int) = (d[(y * s + x) * 3 + ch].toInt() and 0xFF).toDouble()
        val out = ByteArray(size * size * 3)
        for (y in 0 until size) {
            val (y0, wy) = tab[y]
            val y1 = minOf(y0 + 1, s - 1)
            for (x in 0 until size) {
                val (x0, wx) = tab[x]
                val x1 = minOf(x0 + 1, s - 1)
                for (ch in 0 until 3) {
                    val top = px(y0, x0, ch) * (1 - wx) + px(y0, x1, ch) * wx
                    val bot = px(y1, x0, ch) * (1 - wx) + px(y1, x1, ch) * wx
                    out[(y * size + x) * 3 + ch] = rint(top * (1 - wy) + bot * wy).toInt().coerceIn(0, 255).toByte()
                }
            }
        }
        return RgbFrame(size, out)
    }

    /**
     * Centre square of a packed image (RGBA_8888 from CameraX: pixelStride 4; RGB: 3), as RGB.
     * `y0 = (h - s) / 2, x0 = (w - s) / 2` like `center_square`.
     */
    fun centerSquare(src: ByteBuffer, width: Int, height: Int, rowStride: Int, pixelStride: Int): RgbFrame {
        val s = minOf(width, height)
        val y0 = (height - s) / 2
        val x0 = (width - s) / 2
        val out = ByteArray(s * s * 3)
        val row = ByteArray(s * pixelStride)
        for (y in 0 until s) {
            src.position((y0 + y) * rowStride + x0 * pixelStride)
            src.get(row, 0, minOf(row.size, src.remaining()))
            var o = y * s * 3
            var i = 0
            for (x in 0 until s) {
                out[o] = row[i]; out[o + 1] = row[i + 1]; out[o + 2] = row[i + 2]
                o += 3; i += pixelStride
            }
        }
        src.rewind()
        return RgbFrame(s, out)
    }

    /** Overlap weights of a 1-D area resize: for each output index, (first source index, weights). */
    private fun areaTable(src: Int, dst: Int): Array<Pair<Int, DoubleArray>> {
        val scale = src.toDouble() / dst
        return Array(dst) { d ->
            val f0 = d * scale
            val f1 = (d + 1) * scale
            val i0 = kotlin.math.floor(f0).toInt().coerceIn(0, src - 1)
            val i1 = minOf(src, kotlin.math.ceil(f1 - 1e-12).toInt()).coerceAtLeast(i0 + 1)
            val w = DoubleArray(i1 - i0) { k ->
                val a = maxOf(f0, (i0 + k).toDouble())
                val b = minOf(f1, (i0 + k + 1).toDouble())
                maxOf(0.0, b - a) / scale
            }
            i0 to w
        }
    }

    /**
     * Area resize (OpenCV INTER_AREA semantics for downscaling: each output pixel is the
     * overlap-weighted mean of the source box it covers; round half to even). Identity when the
     * sizes are equal. Upscaling uses the same box rule (OpenCV switches to bilinear there; a
     * camera square is never smaller than 224 in practice). Matches cv2 to within 1 LSB
     * (tested against a cv2 fixture).
     */
    fun resizeArea(src: RgbFrame, size: Int): RgbFrame {
        if (src.size == size) return RgbFrame(size, src.data.copyOf())
        val tab = areaTable(src.size, size)
        val s = src.size
        // horizontal pass into doubles, then vertical
        val tmp = DoubleArray(s * size * 3)
        for (y in 0 until s) {
            val rowBase = y * s * 3
            for (x in 0 until size) {
                val (i0, w) = tab[x]
                var r = 0.0; var g = 0.0; var b = 0.0
                for (k in w.indices) {
                    val p = rowBase + (i0 + k) * 3
                    val wk = w[k]
                    r += wk * (src.data[p].toInt() and 0xFF)
                    g += wk * (src.data[p + 1].toInt() and 0xFF)
                    b += wk * (src.data[p + 2].toInt() and 0xFF)
                }
                val o = (y * size + x) * 3
                tmp[o] = r; tmp[o + 1] = g; tmp[o + 2] = b
            }
        }
        val out = ByteArray(size * size * 3)
        for (y in 0 until size) {
            val (i0, w) = tab[y]
            for (x in 0 until size) for (ch in 0 until 3) {
                var acc = 0.0
                for (k in w.indices) acc += w[k] * tmp[((i0 + k) * size + x) * 3 + ch]
                out[(y * size + x) * 3 + ch] = rint(acc).toInt().coerceIn(0, 255).toByte()
            }
        }
        return RgbFrame(size, out)
    }

    /** Rotate a square frame clockwise by 0/90/180/270 degrees (CameraX rotationDegrees). */
    fun rotate(src: RgbFrame, degrees: Int): RgbFrame {
        val d = ((degrees % 360) + 360) % 360
        if (d == 0) return src
        require(d % 90 == 0) { "rotation must be a multiple of 90, got $degrees" }
        val s = src.size
        val out = ByteArray(s * s * 3)
        for (y in 0 until s) for (x in 0 until s) {
            // output (y, x) <- source pixel
            val (sy, sx) = when (d) {
                90 -> Pair(s - 1 - x, y)
                180 -> Pair(s - 1 - y, s - 1 - x)
                else -> Pair(x, s - 1 - y)
            }
            System.arraycopy(src.data, (sy * s + sx) * 3, out, (y * s + x) * 3, 3)
        }
        return RgbFrame(s, out)
    }
}
