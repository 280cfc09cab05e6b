package ai.arnet.edge.demo

import ai.arnet.edge.core.FrameSource
import ai.arnet.edge.core.ImageOps
import ai.arnet.edge.core.RgbFrame
import androidx.camera.core.ImageProxy

/**
 * One CameraX RGBA_8888 frame as core's [FrameSource]: the centre square is cut on the first
 * request only, then resized (the manifest's `normalization.resize` rule) to each size the step asks for and turned upright
 * (rotationDegrees). A skipped step asks for nothing, so nothing is copied or resized.
 */
class CameraFrames(private val image: ImageProxy, private val resize: String) : FrameSource {
    private var square: RgbFrame? = null
    private val sizes = HashMap<Int, RgbFrame>()

    override fun frame(size: Int): RgbFrame = sizes.getOrPut(size) {
        val sq = square ?: image.planes[0].let { p ->
            ImageOps.centerSquare(p.buffer, image.width, image.height, p.rowStride, p.pixelStride)
        }.also { square = it }
        ImageOps.rotate(ImageOps.resize(sq, size, resize), image.imageInfo.rotationDegrees)
    }
}
