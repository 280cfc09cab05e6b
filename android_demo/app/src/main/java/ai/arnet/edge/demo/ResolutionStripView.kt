package ai.arnet.edge.demo

import ai.arnet.edge.core.EventKind
import ai.arnet.edge.core.Manifest
import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View

/**
 * The last [capacity] sampled frames as coloured cells, newest on the right: one colour per
 * resolution (warm = big), dark grey = a skip decision, light grey = a frame covered by a skip.
 * A legend line is drawn above the cells.
 */
class ResolutionStripView @JvmOverloads constructor(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private val capacity = 48
    private val cells = ArrayDeque<Int>()       // colour per frame
    private var legend: List<Pair<String, Int>> = emptyList()
    private var resColors = IntArray(0)
    private val paint = Paint(Paint.ANTI_ALIAS_FLAG)
    private val text = Paint(Paint.ANTI_ALIAS_FLAG).apply { color = Color.WHITE; textSize = 28f }
    private val skipColor = Color.rgb(80, 80, 80)
    private val skippedColor = Color.rgb(170, 170, 170)

    fun setManifest(m: Manifest) {
        val palette = intArrayOf(Color.rgb(229, 57, 53), Color.rgb(251, 140, 0), Color.rgb(253, 216, 53),
            Color.rgb(67, 160, 71), Color.rgb(30, 136, 229), Color.rgb(142, 36, 170))
        resColors = IntArray(m.numResolutions) { palette[it % palette.size] }
        legend = m.resolutions.mapIndexed { i, s -> "$s" to resColors[i] } + listOf("skip" to skipColor, "skipped" to skippedColor)
        cells.clear()
        invalidate()
    }

    fun add(kind: String, action: Int) {
        cells.addLast(when (kind) {
            EventKind.RESOLUTION -> resColors.getOrElse(action) { Color.WHITE }
            EventKind.SKIP -> skipColor
            else -> skippedColor
        })
        while (cells.size > capacity) cells.removeFirst()
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val legendH = text.textSize * 1.2f
        var x = 0f
        for ((name, c) in legend) {
            paint.color = c
            canvas.drawRect(x, 4f, x + 20f, legendH - 4f, paint)
            x += 26f
            canvas.drawText(name, x, legendH - 8f, text)
            x += text.measureText(name) + 24f
        }
        val w = width.toFloat() / capacity
        val top = legendH + 4f
        val start = capacity - cells.size
        for ((i, c) in cells.withIndex()) {
            paint.color = c
            val l = (start + i) * w
            canvas.drawRect(l + 1f, top, l + w - 1f, height.toFloat(), paint)
        }
    }
}
