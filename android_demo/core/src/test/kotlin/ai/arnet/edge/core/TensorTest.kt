package ai.arnet.edge.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.nio.ByteBuffer

class TensorTest {
    private val q = QuantParams(1.0 / 128, 0)

    @Test
    fun quantizeRoundsHalfAwayFromZeroAndClamps() {
        assertEquals(1L, Quant.quantize(0.5 / 128, q, "int8"))   // like TFLite's std::round
        assertEquals(2L, Quant.quantize(1.5 / 128, q, "int8"))
        assertEquals(3L, Quant.quantize(2.5 / 128, q, "int8"))
        assertEquals(-3L, Quant.quantize(-2.5 / 128, q, "int8"))
        assertEquals(-2L, Quant.quantize(-2.49 / 128, q, "int8"))
        assertEquals(127L, Quant.quantize(5.0, q, "int8"))
        assertEquals(-128L, Quant.quantize(-5.0, q, "int8"))
        val u = QuantParams(0.5, 10)
        assertEquals(14L, Quant.quantize(2.0, u, "uint8"))
        assertEquals(0L, Quant.quantize(-100.0, u, "uint8"))
        assertEquals(255L, Quant.quantize(1e9, u, "uint8"))
        assertEquals(2.0f, Quant.dequantize(14, u), 0f)
        // dequantisation is float32 arithmetic: (float32(q) - float32(zp)) * float32(scale)
        val odd = QuantParams(0.1, 3)
        assertEquals((7f - 3f) * 0.1f, Quant.dequantize(7, odd), 0f)
    }

    @Test
    fun stateIsRequantizedEachStep() {
        val h = floatArrayOf(0.3f, -0.999f, 1.5f, 0.00390625f)
        val r = Quant.requantize(h, q, "int8")
        assertArrayEquals(floatArrayOf(38f / 128, -128f / 128, 127f / 128, 1f / 128), r, 0f)
        // idempotent: a requantised state survives another step unchanged
        assertArrayEquals(r, Quant.requantize(r, q, "int8"), 0f)
        // uint8 bytes are unsigned
        val bytes = Quant.quantize(floatArrayOf(100f), QuantParams(1.0, 0), "uint8")
        assertEquals(100f, Quant.dequantize(bytes, QuantParams(1.0, 0), "uint8")[0], 0f)
    }

    @Test
    fun float16RoundTripsAndRounds() {
        for (v in listOf(0f, -0f, 1f, -2.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f, 0.33325195f)) {
            assertEquals("$v", v, Float16.toFloat(Float16.toHalf(v)), 0f)
        }
        assertEquals(Float.POSITIVE_INFINITY, Float16.toFloat(Float16.toHalf(1e6f)), 0f)
        assertTrue(Float16.toFloat(Float16.toHalf(Float.NaN)).isNaN())
        assertEquals(0x3C00, Float16.toHalf(1f).toInt() and 0xFFFF)
        assertEquals(0x3555, Float16.toHalf(1f / 3).toInt() and 0xFFFF)
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: to even (1)
        assertEquals(0x3C00, Float16.toHalf(1f + 1f / 2048).toInt() and 0xFFFF)
        assertEquals(0x3C02, Float16.toHalf(1f + 3f / 2048).toInt() and 0xFFFF)
    }

    @Test
    fun codecEncodesAndDecodesEveryDtype() {
        val v = floatArrayOf(0.25f, -1f, 0.5f, 2f)
        for (dt in listOf("float32", "float16", "int8", "uint8", "int32", "int64")) {
            val quant = when (dt) { "uint8" -> QuantParams(0.25, 8); "float32", "float16" -> null; else -> QuantParams(0.25, 0) }
            val spec = TensorSpec("x", "h", listOf(1, 4), dt, "NC", quant)
            val buf = TensorCodec.allocate(spec)
            assertEquals(4 * TensorCodec.dtypeBytes(dt), buf.capacity())
            TensorCodec.encode(spec, v, buf)
            assertArrayEquals(dt, v, TensorCodec.decode(spec, buf), 0f)
        }
        val noQuant = TensorSpec("x", "h", listOf(1, 2), "int8", "NC")
        try { TensorCodec.encode(noQuant, floatArrayOf(1f, 2f), TensorCodec.allocate(noQuant)); fail() } catch (e: ManifestError) {
            assertTrue(e.message!!, e.message!!.contains("quantisation"))
        }
        // an integer output without any quant params reads as its raw values
        val buf = TensorCodec.allocate(noQuant)
        TensorCodec.encode(noQuant, floatArrayOf(1f, 2f), buf, QuantParams(0.5, 0))
        assertEquals(2, buf.get(0).toInt()); assertEquals(4, buf.get(1).toInt())
        assertArrayEquals(floatArrayOf(2f, 4f), TensorCodec.decode(noQuant, buf), 0f)
        // the model's own params win over the manifest's (as resolve_quant in Python)
        val withQ = noQuant.copy(quant = QuantParams(1.0, 0))
        assertEquals(QuantParams(0.5, 1), TensorCodec.resolveQuant(withQ, QuantParams(0.5, 1)))
        assertEquals(QuantParams(1.0, 0), TensorCodec.resolveQuant(withQ, QuantParams(0.0, 0)))
        assertEquals(null, TensorCodec.resolveQuant(withQ.copy(dtype = "float32"), QuantParams(0.5, 1)))
    }

    private fun tiny(): RgbFrame = RgbFrame(2, byteArrayOf(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, (255).toByte()))

    @Test
    fun frameEncodingHonoursLayoutDtypeAndNormalisation() {
        val folded = Normalization(listOf(0.5, 0.5, 0.5), listOf(0.5, 0.5, 0.5), true, "RGB", "area")
        val f = tiny()
        val nhwc = TensorSpec("frame", "frame", listOf(1, 2, 2, 3), "uint8", "NHWC")
        val b1 = TensorCodec.allocate(nhwc)
        TensorCodec.encodeFrame(nhwc, f, folded, b1)
        assertArrayEquals(f.data, ByteArray(12).also { b1.get(it) })
        val nchw = TensorSpec("frame", "frame", listOf(1, 3, 2, 2), "float32", "NCHW")
        val b2 = TensorCodec.allocate(nchw)
        TensorCodec.encodeFrame(nchw, f, folded, b2)
        val got = TensorCodec.decode(nchw, b2)
        assertArrayEquals(floatArrayOf(0f, 3f, 6f, 9f, 1f, 4f, 7f, 10f, 2f, 5f, 8f, 255f), got, 0f)
        val unfolded = folded.copy(folded = false)
        val nhwcF = TensorSpec("frame", "frame", listOf(1, 2, 2, 3), "float32", "NHWC")
        val b3 = TensorCodec.allocate(nhwcF)
        TensorCodec.encodeFrame(nhwcF, f, unfolded, b3)
        val g3 = TensorCodec.decode(nhwcF, b3)
        // float32 p * float32(1/(255*std)) + float32(-mean/std), as the Python lookup table
        val sc = (1.0 / (255.0 * 0.5)).toFloat()
        assertEquals(0f * sc + -1f, g3[0], 0f)
        assertEquals(255f * sc + -1f, g3[11], 0f)
        assertEquals(1.0, g3[11].toDouble(), 1e-6)
        val i8 = TensorSpec("frame", "frame", listOf(1, 2, 2, 3), "int8", "NHWC", QuantParams(1.0, -128))
        val b4 = TensorCodec.allocate(i8)
        TensorCodec.encodeFrame(i8, f, folded, b4)
        assertEquals(-128, b4.get(0).toInt()); assertEquals(127, b4.get(11).toInt())
        // not folded: the normalised value is quantised (-1 / 1 - 128 -> clamp -128)
        TensorCodec.encodeFrame(i8, f, unfolded, b4)
        assertEquals(-128, b4.get(0).toInt())
        // a uint8 frame without quant can only take raw pixels of a folded model
        try { TensorCodec.encodeFrame(nhwc, f, unfolded, b1); fail() } catch (_: ManifestError) {}
        try { TensorCodec.encodeFrame(nhwc, frameOf(3), folded, b1); fail() } catch (_: IllegalArgumentException) {}
    }

    /** Byte-exact parity with edge_runtime.backends.base (codec_cases.json, see tools/make_fixtures.py). */
    @Test
    fun sameBytesAsThePythonRuntime() {
        val cases = Res.json("codec_cases.json").getJSONArray("cases")
        val img = RgbFrame(8, ByteArray(8 * 8 * 3) { i ->
            val p = i / 3; val ch = i % 3; val y = p / 8; val x = p % 8
            (((x * 37 + y * 91 + ch * 53) xor (x * y + 7 * ch)) and 255).toByte()
        })
        val bad = ArrayList<String>()
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val shape = (0 until c.getJSONArray("shape").length()).map { c.getJSONArray("shape").getInt(it) }
            val q = c.optJSONObject("quant")?.let { QuantParams(it.getDouble("scale"), it.getLong("zero_point")) }
            val spec = TensorSpec("t", if (c.getString("kind") == "frame") "frame" else "h", shape, c.getString("dtype"), c.getString("layout"))
            val buf = TensorCodec.allocate(spec)
            if (c.getString("kind") == "frame") {
                val n = c.getJSONObject("normalization")
                val norm = Normalization(n.getJSONArray("mean").doubles().toList(), n.getJSONArray("std").doubles().toList(),
                    n.getBoolean("folded"), null, "area")
                FrameEncoder(spec, norm, q).encode(img, buf)
            } else {
                TensorCodec.encode(spec, c.getJSONArray("values").float32s("values"), buf, q)
            }
            val got = ByteArray(buf.capacity()).also { buf.order(java.nio.ByteOrder.LITTLE_ENDIAN); buf.get(it); buf.rewind() }
            val want = java.util.Base64.getDecoder().decode(c.getString("bytes_b64"))
            if (!want.contentEquals(got)) {
                val k = want.indices.firstOrNull { want[it] != got.getOrNull(it) }
                bad += "${c.getString("name")}: ${want.size} vs ${got.size} bytes, first difference at byte $k"
            }
            if (c.has("decoded") && !c.isNull("decoded")) {
                val dec = TensorCodec.decode(spec, buf, q)
                val wantDec = c.getJSONArray("decoded").float32s("decoded")
                if (!wantDec.contentEquals(dec)) bad += "${c.getString("name")}: decoded ${dec.toList()} vs ${wantDec.toList()}"
            }
        }
        assertTrue(bad.joinToString("\n"), bad.isEmpty())
        assertTrue(cases.length() >= 15)
    }

    /** A fake int8 interpreter: policy h' = h (identity), logits from a table. */
    private class FakeInt8Policy(val art: Artifact) : TensorEngine {
        var lastH: ByteArray? = null
        override fun invoke(inputs: Map<TensorSpec, ByteBuffer>, outputs: Map<TensorSpec, ByteBuffer>) {
            val hIn = inputs.entries.first { it.key.role == "h" }.value
            lastH = ByteArray(hIn.capacity()).also { hIn.get(it); hIn.rewind() }
            for ((spec, buf) in outputs) {
                buf.rewind()
                when (spec.role) {
                    "h", "c" -> buf.put(lastH!!)
                    else -> repeat(spec.elements) { buf.put((it - 3).toByte()) }
                }
                buf.rewind()
            }
        }
    }

    @Test
    fun tensorRunnerQuantizesInputsAndDequantizesOutputs() {
        val m = handmadeManifest()
        val art = m.find("policy", "litert", "int8")
        val eng = FakeInt8Policy(art)
        val r = TensorRunner(art, m.normalization, eng)
        val h = floatArrayOf(0.3f, -0.5f, 2f, 0f)
        val out = r.run(mapOf("frame" to frameOf(84), "h" to h, "c" to h))
        assertArrayEquals(byteArrayOf(38, -64, 127, 0), eng.lastH)
        assertArrayEquals(floatArrayOf(38f / 128, -0.5f, 127f / 128, 0f), out["h"], 0f)
        // action logits: q = -3..3, scale 0.0625, zero point -3
        assertArrayEquals(FloatArray(7) { (it - 3 + 3) * 0.0625f }, out["action_logits"], 0f)
        assertEquals(5, out["class_logits"]!!.size)
    }
}
