package ai.arnet.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.nio.ByteBuffer
import java.util.Base64

class ImageOpsTest {
    /** The fixture's formula image, packed with [pixelStride] bytes per pixel and [pad] bytes per row. */
    private fun formula(h: Int, w: Int, pixelStride: Int = 3, pad: Int = 0): Pair<ByteBuffer, Int> {
        val rowStride = w * pixelStride + pad
        val buf = ByteBuffer.allocate(rowStride * h)
        for (y in 0 until h) for (x in 0 until w) for (ch in 0 until 3) {
            buf.put(y * rowStride + x * pixelStride + ch, (((x * 37 + y * 91 + ch * 53) xor (x * y + 7 * ch)) and 255).toByte())
        }
        return buf to rowStride
    }

    @Test
    fun centreSquareCropsLikePreprocess() {
        val (buf, stride) = formula(47, 61, pixelStride = 4, pad = 8) // RGBA with row padding
        val sq = ImageOps.centerSquare(buf, 61, 47, stride, 4)
        assertEquals(47, sq.size)
        val x0 = (61 - 47) / 2
        for (y in listOf(0, 20, 46)) for (x in listOf(0, 13, 46)) for (ch in 0 until 3) {
            assertEquals(((((x + x0) * 37 + y * 91 + ch * 53) xor ((x + x0) * y + 7 * ch)) and 255), sq.pixel(y, x, ch))
        }
    }

    /** Against edge_runtime.preprocess (cv2 INTER_AREA, and the pyramid of 2x2 INTER_AREA
     *  halvings + INTER_LINEAR; resize_cases.json): within 1 LSB. */
    @Test
    fun areaResizeMatchesOpenCv() {
        val cases = Res.json("resize_cases.json").getJSONArray("cases")
        var total = 0
        var exact = 0
        for (i in 0 until cases.length()) {
            val c = cases.getJSONObject(i)
            val h = c.getInt("height"); val w = c.getInt("width"); val s = c.getInt("size")
            val (buf, stride) = formula(h, w)
            val out = ImageOps.resize(ImageOps.centerSquare(buf, w, h, stride, 3), s, c.optString("method", "area"))
            val want = Base64.getDecoder().decode(c.getString("rgb_b64"))
            assertEquals(want.size, out.data.size)
            var worst = 0
            for (k in want.indices) {
                val d = Math.abs((want[k].toInt() and 0xFF) - (out.data[k].toInt() and 0xFF))
                worst = maxOf(worst, d)
                if (d == 0) exact++
                total++
            }
            assertTrue("${h}x$w -> $s (${c.optString("method")}): max |diff| $worst > 1", worst <= 1)
        }
        assertTrue("only $exact of $total pixels exact", exact >= total * 0.95)
    }

    @Test
    fun rotateQuarterTurns() {
        // 2x2: a b / c d  -> 90 cw: c a / d b
        val f = RgbFrame(2, ByteArray(12) { (it / 3).toByte() }) // pixel value = index 0..3
        fun px(r: RgbFrame) = (0 until 4).map { r.data[it * 3].toInt() }
        assertEquals(listOf(2, 0, 3, 1), px(ImageOps.rotate(f, 90)))
        assertEquals(listOf(3, 2, 1, 0), px(ImageOps.rotate(f, 180)))
        assertEquals(listOf(1, 3, 0, 2), px(ImageOps.rotate(f, 270)))
        assertEquals(listOf(0, 1, 2, 3), px(ImageOps.rotate(f, 360)))
    }
}
