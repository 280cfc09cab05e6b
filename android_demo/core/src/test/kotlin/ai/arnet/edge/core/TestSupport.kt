package ai.arnet.edge.core

import org.json.JSONArray
import org.json.JSONObject
import java.io.File

/** Test resources (src/test/resources is a directory on the classpath: kotlinc script and Gradle). */
object Res {
    fun file(path: String): File {
        val url = Res::class.java.getResource("/$path") ?: throw AssertionError("test resource /$path not on the classpath")
        return File(url.toURI())
    }

    fun text(path: String): String = file(path).readText()
    fun json(path: String): JSONObject = JSONObject(text(path))
}

fun JSONArray.doubles(): DoubleArray = DoubleArray(length()) { getDouble(it) }

/** A JSON list of float32 values (exact: every double must round-trip through float). */
fun JSONArray.float32s(where: String): FloatArray = FloatArray(length()) {
    val d = getDouble(it)
    val f = d.toFloat()
    if (f.toDouble() != d && !d.isNaN()) throw AssertionError("$where[$it] = $d is not a float32 value (write float(np.float32(x)))")
    f
}

fun JSONObject.optNullable(key: String): Any? = if (!has(key) || isNull(key)) null else get(key)

fun frameOf(size: Int, fill: Int = 0): RgbFrame = RgbFrame(size, ByteArray(size * size * 3) { fill.toByte() })

/** The hand-made fixture manifest as JSON text (4 resolutions, skips 1/2/4, 5 labels, hidden 4). */
fun handmadeManifestJson(): JSONObject = Res.json("golden/handmade_basic.json").getJSONObject("manifest")

fun handmadeManifest(): Manifest = Manifest.fromJson(handmadeManifestJson(), "handmade")
