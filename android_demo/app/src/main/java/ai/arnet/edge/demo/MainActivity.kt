package ai.arnet.edge.demo

import ai.arnet.edge.core.BudgetController
import ai.arnet.edge.core.StepEvent
import ai.arnet.edge.core.actionName
import android.Manifest.permission.CAMERA
import android.content.pm.PackageManager
import android.os.Bundle
import android.util.Log
import android.util.Size
import android.view.View
import android.widget.Button
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * The whole demo: camera preview, one analysis thread that owns the [Session] (core's Streamer
 * over LiteRT runners), and a text overlay. Every model/stream call happens on [worker]; the UI
 * thread only gets finished strings.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var previewView: PreviewView
    private lateinit var labelsView: TextView
    private lateinit var statsView: TextView
    private lateinit var errorView: TextView
    private lateinit var strip: ResolutionStripView
    private lateinit var controls: View
    private lateinit var threadsButton: Button
    private lateinit var accelButton: Button
    private lateinit var precisionButton: Button
    private lateinit var budgetButton: Button

    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private lateinit var battery: BatteryProbe

    // owned by the worker thread
    private var model: ModelAssets? = null
    private var session: Session? = null
    private var config = EngineConfig(threads = 4, accel = EngineConfig.Accel.XNNPACK, precision = "fp32")
    private var budgetChoice = 0

    /** Budget presets: off, a sustained frame rate, a power draw. */
    private val budgets: List<Pair<String, () -> BudgetController?>> = listOf(
        "budget off" to { null },
        "≥ 30 fps" to { BudgetController(targetFps = 30.0) },
        "≥ 60 fps" to { BudgetController(targetFps = 60.0) },
        "≤ 1500 mW" to { BudgetController(targetMw = 1500.0) },
    )

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else showError("The camera permission is needed to recognise actions live.")
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        previewView = findViewById(R.id.preview)
        labelsView = findViewById(R.id.labels)
        statsView = findViewById(R.id.stats)
        errorView = findViewById(R.id.error)
        strip = findViewById(R.id.strip)
        controls = findViewById(R.id.controls)
        threadsButton = findViewById(R.id.threads)
        accelButton = findViewById(R.id.accel)
        precisionButton = findViewById(R.id.precision)
        budgetButton = findViewById(R.id.budget)
        battery = BatteryProbe(this)

        threadsButton.setOnClickListener { reconfigure { it.copy(threads = nextOf(listOf(1, 2, 4, 8), it.threads)) } }
        accelButton.setOnClickListener { reconfigure { it.copy(accel = nextOf(EngineConfig.Accel.entries, it.accel)) } }
        precisionButton.setOnClickListener {
            reconfigure { c -> model?.precisions?.let { c.copy(precision = nextOf(it, c.precision)) } ?: c }
        }
        budgetButton.setOnClickListener {
            worker.execute { budgetChoice = (budgetChoice + 1) % budgets.size; rebuild(config) }
        }
        findViewById<Button>(R.id.clear).setOnClickListener {
            worker.execute { session?.run { streamer.clear(); telemetry.clear(); budget?.reset() }; battery.reset() }
        }

        worker.execute {
            try {
                val m = ModelAssets.load(assets)
                model = m
                val precision = if ("fp32" in m.precisions) "fp32" else m.precisions.first()
                runOnUiThread { strip.setManifest(m.manifest) }
                rebuild(config.copy(precision = precision))
            } catch (e: Exception) {
                Log.e(TAG, "model", e)
                showError(e.message ?: e.toString())
                return@execute
            }
            runOnUiThread {
                if (ContextCompat.checkSelfPermission(this, CAMERA) == PackageManager.PERMISSION_GRANTED) startCamera()
                else askCamera.launch(CAMERA)
            }
        }
    }

    private fun <T> nextOf(options: List<T>, current: T): T = options[(options.indexOf(current) + 1) % options.size]

    private fun reconfigure(change: (EngineConfig) -> EngineConfig) = worker.execute { rebuild(change(config)) }

    /** (worker) Close the interpreters and build new ones, so threads/delegate/precision really change. */
    private fun rebuild(next: EngineConfig) {
        val m = model ?: return
        session?.close()
        session = null
        val budget = budgets[budgetChoice]
        val s = try {
            Session(m, next, budget.second())
        } catch (e: Exception) {
            Log.w(TAG, "cannot build $next", e)
            if (next == config) { showError(e.message ?: e.toString()); return }
            toastInStats("${next.accel}/${next.precision}: ${e.message}\nkeeping ${config.accel}/${config.precision}")
            try {
                Session(m, config, budget.second())
            } catch (e2: Exception) {
                showError(e2.message ?: e2.toString()); return
            }
        }
        session = s
        config = s.config
        battery.reset()
        val c = s.config
        runOnUiThread {
            threadsButton.text = getString(R.string.threads, c.threads)
            accelButton.text = c.accel.name
            precisionButton.text = c.precision
            budgetButton.text = budget.first
        }
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            val preview = Preview.Builder().build().also { it.setSurfaceProvider(previewView.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setResolutionSelector(ResolutionSelector.Builder().setResolutionStrategy(
                    ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER)).build())
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            analysis.setAnalyzer(worker, ::analyze)
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
        }, ContextCompat.getMainExecutor(this))
    }

    /** (worker) One camera frame: stepped only when the manifest's sampling clock says so. */
    private fun analyze(image: ImageProxy) {
        try {
            val s = session ?: return
            val now = System.nanoTime()
            if (!s.clock.due(now)) return
            val ev = s.streamer.step(CameraFrames(image, s.manifest.normalization.resize))
            s.telemetry.record(ev)
            battery.sample(now)
            s.budget?.let { b ->
                s.streamer.lambda = b.update(measuredFps = s.telemetry.fps.fps,
                    measuredMw = battery.meter.powerMw.takeIf { it.isFinite() })
            }
            val labels = labelsText(ev)
            val stats = statsText(s, ev)
            runOnUiThread {
                labelsView.text = labels
                statsView.text = stats
                strip.add(ev.kind, ev.action)
            }
        } catch (e: Exception) {
            Log.e(TAG, "step", e)
            showError("Streaming failed: ${e.message}")
            session?.close()
            session = null
        } finally {
            image.close()
        }
    }

    private fun labelsText(ev: StepEvent): String {
        val shown = ev.label ?: "…"
        val top = ev.top.joinToString("   ") { "%s %.2f".format(Locale.US, it.label, it.score) }
        return "$shown\n$top"
    }

    private fun statsText(s: Session, ev: StepEvent): String {
        val t = s.telemetry
        fun p(stage: String) = t.stage(stage)?.let { "%.1f/%.1f".format(Locale.US, it.p50(), it.p95()) } ?: "-"
        val hist = t.histogram().entries.joinToString(" ") { (k, v) -> "$k:$v" }
        val mpg = t.msPerGmac().entries.joinToString(" ") { (k, v) -> "%s %.1f".format(Locale.US, k, v) }
        val m = battery.meter
        val bat = when {
            !battery.supported -> "battery: current not reported by this device"
            m.samples == 0L -> "battery: …"
            m.charging -> "battery: charging (%.0f mA in); unplug to measure drain".format(Locale.US, -m.drainMa)
            else -> "battery: %.0f mA  %.2f W  %.1f J%s".format(Locale.US, m.drainMa, m.powerMw / 1000, m.energyMj / 1000,
                if (t.frames > 0 && m.energyMj > 0) "  %.1f mJ/frame".format(Locale.US, m.energyMj / t.frames) else "")
        }
        return listOf(
            "${s.config.accel} ${s.config.precision} ×${s.config.threads}   this: ${actionName(s.manifest, ev.action)} (${ev.kind})" +
                "   λ %.2f".format(Locale.US, ev.lambda),
            "ms p50/p95  step ${p("step")}  policy ${p("policy")}  backbone ${p("backbone")}  resize ${p("resize")}",
            "fps %.1f sustained".format(Locale.US, t.fps.fps ?: Double.NaN) +
                "   GMACs/frame %.3f vs uniform %.3f (%s)".format(Locale.US, t.gmacsPerFrame(), t.uniformGmacsPerFrame,
                    t.speedup()?.let { "%.1f× fewer".format(Locale.US, it) } ?: "-"),
            "actions $hist",
            "ms/GMAC $mpg",
            bat,
        ).joinToString("\n")
    }

    private fun toastInStats(msg: String) = runOnUiThread { statsView.text = msg }

    /** The visible refusal: a message over the preview, controls hidden. */
    private fun showError(msg: String) = runOnUiThread {
        errorView.text = msg
        errorView.visibility = View.VISIBLE
        controls.visibility = View.GONE
    }

    override fun onDestroy() {
        super.onDestroy()
        worker.execute { session?.close(); session = null }
        worker.shutdown()
    }

    companion object {
        private const val TAG = "ArNetEdge"
    }
}
