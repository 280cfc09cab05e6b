package ai.arnet.edge.demo

import ai.arnet.edge.core.Artifact
import ai.arnet.edge.core.BudgetController
import ai.arnet.edge.core.Deployment
import ai.arnet.edge.core.MANIFEST_NAME
import ai.arnet.edge.core.Manifest
import ai.arnet.edge.core.ManifestError
import ai.arnet.edge.core.ModelRunner
import ai.arnet.edge.core.StepClock
import ai.arnet.edge.core.StreamOptions
import ai.arnet.edge.core.Streamer
import ai.arnet.edge.core.Telemetry
import ai.arnet.edge.core.TensorRunner
import ai.arnet.edge.core.sha256Hex
import android.content.res.AssetManager
import java.io.FileInputStream
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel

const val EXPORT_HINT = "python convert/export_all.py --android android_demo/app/src/main/assets/model"

/**
 * The exported model folder in assets/model: manifest.json (validated by core) and the LiteRT
 * artifacts it names. [load] refuses, with a message naming what is wrong, a folder the app
 * cannot run: no manifest, an invalid or unsupported one, no complete litert/tflite set.
 */
class ModelAssets private constructor(private val assets: AssetManager, val dir: String, val manifest: Manifest) {
    /** Precisions with a complete set of LiteRT artifacts whose files exist. */
    val precisions: List<String> = Deployment.precisions(manifest).filter { p ->
        runCatching { Deployment.plan(manifest, p) { exists(it) } }.isSuccess
    }

    fun exists(file: String): Boolean = try {
        assets.open("$dir/$file").close(); true
    } catch (_: IOException) {
        false
    }

    /** Build runners for every artifact at [config].precision (sha256-checked), or throw. */
    fun openRunners(config: EngineConfig): Map<String, ModelRunner> {
        val plan = Deployment.plan(manifest, config.precision) { exists(it) }
        val out = LinkedHashMap<String, ModelRunner>()
        try {
            for ((id, art) in plan) {
                verify(art)
                val engine = LiteRtEngine(load(art), art, config)
                out[id] = try {
                    TensorRunner(art, manifest.normalization, engine)
                } catch (e: Exception) {
                    engine.close(); throw e
                }
            }
        } catch (e: Exception) {
            out.values.forEach { it.close() }
            throw e
        }
        return out
    }

    private fun verify(art: Artifact) {
        val got = assets.open("$dir/${art.file}").use { sha256Hex(it) }
        if (got != art.sha256) {
            throw ManifestError("assets/$dir/${art.file}: sha256 mismatch for artifact '${art.id}': manifest says " +
                "${art.sha256.take(16)}..., file has ${got.take(16)}... (corrupt or replaced; re-export)")
        }
    }

    /** Memory-map the model (stored uncompressed, see build.gradle.kts), else read it into a direct buffer. */
    private fun load(art: Artifact): ByteBuffer = try {
        assets.openFd("$dir/${art.file}").use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { ch ->
                ch.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
    } catch (_: IOException) {
        val bytes = assets.open("$dir/${art.file}").use { it.readBytes() }
        ByteBuffer.allocateDirect(bytes.size).order(ByteOrder.nativeOrder()).put(bytes).also { it.rewind() }
    }

    companion object {
        fun load(assets: AssetManager, dir: String = "model"): ModelAssets {
            val where = "assets/$dir/$MANIFEST_NAME"
            val text = try {
                assets.open("$dir/$MANIFEST_NAME").bufferedReader().use { it.readText() }
            } catch (_: IOException) {
                throw ManifestError("$where: no manifest here. Export one with\n  $EXPORT_HINT\nand rebuild the app.")
            }
            val m = Manifest.parse(text, where)
            val ma = ModelAssets(assets, dir, m)
            if (ma.precisions.isEmpty()) {
                // let plan() say exactly what is missing for the most likely precision
                Deployment.plan(m, Deployment.precisions(m).firstOrNull() ?: "fp32") { ma.exists(it) }
                throw ManifestError("$where: no complete set of LiteRT (.tflite) artifacts; re-run\n  $EXPORT_HINT")
            }
            return ma
        }
    }
}

/** Everything that streams with one [EngineConfig]; rebuilt when the config changes. */
class Session(val model: ModelAssets, val config: EngineConfig, val budget: BudgetController?) : AutoCloseable {
    val manifest: Manifest = model.manifest
    private val runners = model.openRunners(config)
    val streamer = Streamer(manifest, runners, StreamOptions())
    val telemetry = Telemetry(manifest)
    val clock = StepClock(manifest.sampling.secondsPerStep)

    override fun close() = runners.values.forEach { it.close() }
}
