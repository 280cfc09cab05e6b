package ai.arnet.edge.core

import kotlin.math.exp

/** Gives the current sampled frame at a size, on demand (a skipped step asks for nothing). */
fun interface FrameSource {
    fun frame(size: Int): RgbFrame
}

/** Streaming options (docs/STREAMING.md). `window = null` = `sampling.frames_per_clip`. */
data class StreamOptions(
    val window: Int? = null,
    val topK: Int = 3,
    val margin: Double = 0.1,
    val hold: Int = 2,
)

data class Scored(val index: Int, val label: String, val score: Double)

object EventKind {
    const val RESOLUTION = "resolution"
    const val SKIP = "skip"
    const val SKIPPED = "skipped"
}

/** One sampled frame's outcome. */
class StepEvent(
    /** Sampled-frame counter since the Streamer was made (not reset by clear()). */
    val t: Long,
    val kind: String,
    val action: Int,
    /** Resolution of a "resolution" event, else null. */
    val size: Int?,
    /** Frames covered by the skip of a "skip"/"skipped" event, else null. */
    val frames: Int?,
    /** The window entry: class logits of a processed frame, null for skip/skipped. */
    val classLogits: FloatArray?,
    /** Window scores (softmax, or sigmoid for multi-label); null when the window has no entry. */
    val scores: DoubleArray?,
    val top: List<Scored>,
    /** Displayed label (hysteresis), null until the first scores after start / clear(). */
    val label: String?,
    val labelIndex: Int,
    /** GMACs this step spent per the manifest cost table (0 for "skipped"). */
    val gmacs: Double,
    /** Wall time per stage in ns, named like the Python runtime: "resize" (crop/resize on
     *  demand), "policy", "backbone" (when one ran), "step" (the whole step). */
    val stageNanos: Map<String, Long>,
    /** The λ used for this decision (0 without a budget). */
    val lambda: Double,
    /** Artifact id of the backbone that ran, if any. */
    val backbone: String?,
)

/** Indices by score descending, ties by lower index; at most [k]. */
fun topK(scores: DoubleArray, k: Int): IntArray =
    scores.indices.sortedWith(Comparator { a, b ->
        val c = scores[b].compareTo(scores[a])
        if (c != 0) c else a.compareTo(b)
    }).take(k).toIntArray()

/** Argmax, lowest index on ties. */
fun argmax(z: DoubleArray): Int {
    var best = 0
    for (i in 1 until z.size) if (z[i] > z[best]) best = i
    return best
}

/** Sliding window of the last W sampled frames' entries (null = empty entry) and its scores. */
class WindowScorer(val window: Int, val numClasses: Int, val multiLabel: Boolean) {
    private val entries = ArrayDeque<FloatArray?>()

    init {
        require(window >= 1) { "window must be >= 1, got $window" }
    }

    fun push(entry: FloatArray?) {
        if (entry != null) require(entry.size == numClasses) { "class logits: expected $numClasses values, got ${entry.size}" }
        entries.addLast(entry)
        while (entries.size > window) entries.removeFirst()
    }

    fun clear() = entries.clear()

    /** Mean (float64, summed in time order, divided by the count) of non-empty entries, or null. */
    fun mean(): DoubleArray? {
        var n = 0
        val sum = DoubleArray(numClasses)
        for (e in entries) if (e != null) {
            n++
            for (i in 0 until numClasses) sum[i] += e[i].toDouble()
        }
        if (n == 0) return null
        for (i in 0 until numClasses) sum[i] /= n.toDouble()
        return sum
    }

    fun scores(): DoubleArray? = mean()?.let { toScores(it, multiLabel) }

    companion object {
        fun toScores(m: DoubleArray, multiLabel: Boolean): DoubleArray =
            if (multiLabel) DoubleArray(m.size) { 1.0 / (1.0 + exp(-m[it])) } else softmax(m)

        fun softmax(m: DoubleArray): DoubleArray {
            var mx = Double.NEGATIVE_INFINITY
            for (v in m) if (v > mx) mx = v
            val e = DoubleArray(m.size) { exp(m[it] - mx) }
            var s = 0.0
            for (v in e) s += v
            for (i in e.indices) e[i] /= s
            return e
        }
    }
}

/** Displayed-label hysteresis (docs/STREAMING.md "Window, scores, labels"). */
class Hysteresis(val margin: Double, val hold: Int) {
    init {
        require(hold >= 1) { "hold must be >= 1, got $hold" }
    }

    var displayed: Int = -1
        private set
    private var candidate = -1
    private var count = 0

    /** Feed one step's scores (null = unscored step: nothing changes); returns the displayed index. */
    fun update(scores: DoubleArray?): Int {
        if (scores == null) return displayed
        val top1 = topK(scores, 1)[0]
        if (displayed < 0) {
            displayed = top1; candidate = -1; count = 0
        } else if (top1 == displayed) {
            candidate = -1; count = 0
        } else if (scores[top1] - scores[displayed] >= margin) {
            if (top1 == candidate) count++ else { candidate = top1; count = 1 }
            if (count >= hold) { displayed = top1; candidate = -1; count = 0 }
        } else {
            candidate = -1; count = 0
        }
        return displayed
    }

    fun clear() { displayed = -1; candidate = -1; count = 0 }
}

/**
 * The AR-Net step loop on a live stream (docs/STREAMING.md, normative): policy on the
 * lowest-resolution frame with LSTM state, budget-biased argmax over actions, the chosen
 * backbone or a skip, a sliding window of class logits, top-k and a hysteresis label.
 *
 * [runners] by artifact id: "policy" and the backbone id of every action `a < L-1`. Not
 * thread-safe: call [step] / [clear] from one thread.
 */
class Streamer(
    val manifest: Manifest,
    runners: Map<String, ModelRunner>,
    val options: StreamOptions = StreamOptions(),
    private val clock: () -> Long = System::nanoTime,
) {
    private val L = manifest.numResolutions
    private val A = manifest.numActions
    private val runners = HashMap(runners)
    val window: Int = options.window ?: manifest.sampling.framesPerClip
    private val scorer: WindowScorer
    private val hysteresis = Hysteresis(options.margin, options.hold)

    /** Budget bias weight λ >= 0 (set by a [BudgetController]; 0 = pure policy). */
    var lambda: Double = 0.0
        set(v) { require(v >= 0 && v.isFinite()) { "lambda must be a finite value >= 0, got $v" }; field = v }

    /** b_a: normalised per-action cost (manifest GMACs by default; see [Budget.normalizedCosts]). */
    var normalizedCosts: DoubleArray = Budget.normalizedCosts(manifest)
        set(v) { require(v.size == A) { "normalizedCosts: expected $A values, got ${v.size}" }; field = v.copyOf() }

    private var h = FloatArray(manifest.hidden)
    private var c = FloatArray(manifest.hidden)
    private var skipRemaining = 0
    private var skipAction = -1
    private var t = 0L

    init {
        require(manifest.hidden >= 1) { "${manifest.where}.policy.hidden: must be >= 1 to stream, got ${manifest.hidden}" }
        require(window >= 1) {
            if (options.window != null) "options.window: must be >= 1, got $window"
            else "${manifest.where}.sampling.frames_per_clip: must be >= 1 to stream, got $window"
        }
        require(options.topK >= 1) { "options.top_k: must be >= 1, got ${options.topK}" }
        scorer = WindowScorer(window, manifest.numClasses, manifest.multiLabel)
        val missing = (listOf("policy") + (0 until L - 1).map { manifest.actions[it].backbone!! })
            .filter { it !in this.runners }
        require(missing.isEmpty()) { "Streamer: no runner for artifact(s) $missing" }
    }

    /** Replace the runners (e.g. interpreters rebuilt with new threads / delegate / precision). */
    fun setRunners(newRunners: Map<String, ModelRunner>) {
        runners.clear(); runners.putAll(newRunners)
    }

    /** Reset state: h = c = 0, no skip pending, empty window, no displayed label. */
    fun clear() {
        h = FloatArray(manifest.hidden); c = FloatArray(manifest.hidden)
        skipRemaining = 0; skipAction = -1
        scorer.clear(); hysteresis.clear()
    }

    /** Result of the decision part of a step, before the window. */
    private class Decision(
        val kind: String, val action: Int, val entry: FloatArray?, val lowLogits: FloatArray?,
        val gmacs: Double, val stages: Map<String, Long>, val lambda: Double, val backbone: String?,
    )

    private fun decide(frames: FrameSource): Decision {
        val t0 = clock()
        val stages = LinkedHashMap<String, Long>()
        if (skipRemaining > 0) {
            skipRemaining -= 1
            stages["step"] = clock() - t0
            return Decision(EventKind.SKIPPED, skipAction, null, null, 0.0, stages, lambda, null)
        }
        var frameNs = 0L
        fun timedFrame(size: Int): RgbFrame {
            val a = clock()
            val f = frames.frame(size)
            frameNs += clock() - a
            require(f.size == size) { "FrameSource returned ${f.size}x${f.size}, asked for $size" }
            return f
        }
        val low = timedFrame(manifest.policyResolution)
        val p0 = clock()
        val out = runners.getValue("policy").run(mapOf("frame" to low, "h" to h, "c" to c))
        stages["policy"] = clock() - p0
        val logits = out["action_logits"] ?: error("policy returned no action_logits")
        val lowLogits = out["class_logits"] ?: error("policy returned no class_logits")
        require(logits.size == A) { "policy action_logits: expected $A values, got ${logits.size}" }
        h = (out["h"] ?: error("policy returned no h")).copyOf()
        c = (out["c"] ?: error("policy returned no c")).copyOf()
        val lam = lambda
        val b = normalizedCosts
        val z = DoubleArray(A) { logits[it].toDouble() - lam * b[it] }
        val action = argmax(z)
        val gmacs = manifest.actionCost(action)
        var backbone: String? = null
        val kind: String
        var entry: FloatArray? = null
        when {
            action == L - 1 -> { kind = EventKind.RESOLUTION; entry = lowLogits.copyOf() }
            action < L - 1 -> {
                kind = EventKind.RESOLUTION
                backbone = manifest.actions[action].backbone!!
                val f = timedFrame(manifest.resolutions[action])
                val b0 = clock()
                val bo = runners.getValue(backbone).run(mapOf("frame" to f))
                stages["backbone"] = clock() - b0
                entry = (bo["class_logits"] ?: error("$backbone returned no class_logits")).copyOf()
            }
            else -> {
                kind = EventKind.SKIP
                skipRemaining = manifest.skipLengths[action - L] - 1
                skipAction = action
            }
        }
        stages["resize"] = frameNs
        stages["step"] = clock() - t0
        return Decision(kind, action, entry, lowLogits.copyOf(), gmacs, stages, lam, backbone)
    }

    /** One sampled frame (docs/STREAMING.md "Per sampled frame t"). */
    fun step(frames: FrameSource): StepEvent {
        val d = decide(frames)
        scorer.push(d.entry)
        val scores = scorer.scores()
        val top = if (scores == null) emptyList() else topK(scores, options.topK).map { Scored(it, manifest.labels[it], scores[it]) }
        val shown = hysteresis.update(scores)
        val act = manifest.actions[d.action]
        return StepEvent(
            t = t++, kind = d.kind, action = d.action,
            size = if (d.kind == EventKind.RESOLUTION) act.size else null,
            frames = if (act.isSkip) act.frames else null,
            classLogits = d.entry, scores = scores, top = top,
            label = if (shown >= 0) manifest.labels[shown] else null, labelIndex = shown,
            gmacs = d.gmacs, stageNanos = d.stages, lambda = d.lambda, backbone = d.backbone)
    }

    /**
     * Offline clip prediction (docs/STREAMING.md "Offline parity"): clear(), run the T frames with
     * W = T, return the scores; if no frame was processed, the scores of the mean of the policy's
     * class logits over the decision steps. Clears again afterwards.
     */
    fun predictClip(frames: List<FrameSource>): DoubleArray {
        require(frames.isNotEmpty()) { "predictClip: no frames" }
        clear()
        val clipWindow = WindowScorer(frames.size, manifest.numClasses, manifest.multiLabel)
        val lows = WindowScorer(frames.size, manifest.numClasses, manifest.multiLabel)
        for (f in frames) {
            val d = decide(f)
            clipWindow.push(d.entry)
            lows.push(d.lowLogits)
        }
        clear()
        return clipWindow.scores() ?: lows.scores()!!
    }
}
