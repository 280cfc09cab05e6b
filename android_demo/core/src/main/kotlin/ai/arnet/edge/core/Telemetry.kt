package ai.arnet.edge.core

import kotlin.math.floor

/** Percentile with linear interpolation between closest ranks (numpy's default method). */
fun percentile(values: DoubleArray, q: Double): Double {
    require(values.isNotEmpty()) { "percentile of nothing" }
    require(q in 0.0..100.0) { "q must be in [0, 100], got $q" }
    val s = values.sortedArray()
    val pos = q / 100.0 * (s.size - 1)
    val lo = floor(pos).toInt()
    val hi = minOf(lo + 1, s.size - 1)
    val frac = pos - lo
    return s[lo] + (s[hi] - s[lo]) * frac
}

/** The last [capacity] samples of one latency, in ms (4096 like the Python runtime). */
class LatencyStats(val capacity: Int = 4096) {
    private val ring = DoubleArray(capacity)
    private var n = 0L
    val count: Long get() = n

    fun add(ms: Double) { ring[(n % capacity).toInt()] = ms; n++ }
    fun values(): DoubleArray = ring.copyOf(minOf(n, capacity.toLong()).toInt())
    fun p50(): Double = if (n == 0L) Double.NaN else percentile(values(), 50.0)
    fun p95(): Double = if (n == 0L) Double.NaN else percentile(values(), 95.0)
    fun mean(): Double = if (n == 0L) Double.NaN else values().average()
    fun clear() { n = 0 }
}

/**
 * Frame rate over the last [window] sampled frames: frames / their total time (as
 * `edge_runtime.budget.FpsMeter`). Feed frame durations ([addMs]) or timestamps ([tick]; the
 * first one only sets the reference).
 */
class FpsMeter(val window: Int = 32) {
    private val ms = ArrayDeque<Double>()
    private var lastT = Long.MIN_VALUE

    init { require(window >= 1) { "window must be >= 1, got $window" } }

    fun addMs(v: Double) {
        require(v.isFinite() && v >= 0) { "frame time must be finite and >= 0, got $v" }
        ms.addLast(v)
        while (ms.size > window) ms.removeFirst()
    }

    fun tick(tNanos: Long) {
        if (lastT != Long.MIN_VALUE) addMs((tNanos - lastT) / 1e6)
        lastT = tNanos
    }

    /** Frames per second, or null before any time was measured. */
    val fps: Double?
        get() {
            var total = 0.0
            for (v in ms) total += v
            return if (ms.isEmpty() || total <= 0) null else 1000.0 * ms.size / total
        }

    fun reset() { ms.clear(); lastT = Long.MIN_VALUE }
}

/**
 * Decides which camera frames are *sampled* (one step per `sampling.seconds_per_step`), on a
 * fixed cadence that does not drift; if the device falls behind it restarts from now.
 */
class StepClock(secondsPerStep: Double) {
    private val period = (secondsPerStep * 1e9).toLong().coerceAtLeast(1)
    private var next = Long.MIN_VALUE

    fun due(tNanos: Long): Boolean {
        if (next != Long.MIN_VALUE && tNanos < next) return false
        next = if (next == Long.MIN_VALUE || tNanos - next >= period) tNanos + period else next + period
        return true
    }

    fun reset() { next = Long.MIN_VALUE }
}

/**
 * Battery drain from Android's BatteryManager: `BATTERY_PROPERTY_CURRENT_NOW` in µA (negative
 * = discharging, the BatteryManager convention) and the voltage in mV (ACTION_BATTERY_CHANGED
 * EXTRA_VOLTAGE). Drain current = -current (positive while discharging); power = drain · V;
 * energy and charge are trapezoid integrals over time. Some devices report mA instead of µA:
 * pass [currentScale] = 1000 for those.
 */
class BatteryMeter(val currentScale: Double = 1.0) {
    private var lastT = Long.MIN_VALUE
    private var lastDrainMa = 0.0
    private var lastPowerMw = 0.0
    var energyMj: Double = 0.0; private set        // millijoules drawn
    var chargeMah: Double = 0.0; private set       // mAh drawn
    var seconds: Double = 0.0; private set
    var drainMa: Double = Double.NaN; private set  // latest
    var powerMw: Double = Double.NaN; private set  // latest
    var charging: Boolean = false; private set     // latest sample says charging (current > 0)
    var samples: Long = 0; private set

    /** Add a sample; [voltageMv] null/<=0 = unknown (power/energy then stay unknown). */
    fun add(tNanos: Long, currentMicroA: Long, voltageMv: Int?) {
        val drain = -currentMicroA * currentScale / 1000.0
        val power = if (voltageMv != null && voltageMv > 0) drain * voltageMv / 1000.0 else Double.NaN
        if (lastT != Long.MIN_VALUE && tNanos > lastT) {
            val dt = (tNanos - lastT) / 1e9
            seconds += dt
            chargeMah += (lastDrainMa + drain) / 2 * dt / 3600.0
            if (!power.isNaN() && !lastPowerMw.isNaN()) energyMj += (lastPowerMw + power) / 2 * dt
        }
        lastT = tNanos; lastDrainMa = drain; lastPowerMw = power
        drainMa = drain; powerMw = power; charging = currentMicroA > 0; samples++
    }

    /** Mean power over the integrated time, mW (energy / time). */
    fun meanPowerMw(): Double = if (seconds > 0) energyMj / seconds else Double.NaN

    fun clear() {
        lastT = Long.MIN_VALUE; energyMj = 0.0; chargeMah = 0.0; seconds = 0.0
        drainMa = Double.NaN; powerMw = Double.NaN; charging = false; samples = 0
    }
}

/** Short stable action names, as the Python runtime: `res224`, `res84`, `skip2`. */
fun actionName(m: Manifest, a: Int): String = m.actions[a].let { if (it.isSkip) "skip${it.frames}" else "res${it.size}" }

/**
 * Running telemetry over [StepEvent]s, with the Python runtime's definitions
 * (`edge_runtime/telemetry`): per-stage latency p50/p95 ("resize", "policy", "backbone", "step"),
 * action histogram (decision steps per action + "skipped" frames), GMACs per sampled frame
 * (skipped frames count 0) vs the uniform baseline `costs.uniform_per_frame`, ms per GMAC per
 * network (mean ms per invocation / its GMACs; networks of 0 GMACs left out).
 */
class Telemetry(val manifest: Manifest, capacity: Int = 4096) {
    val stages = LinkedHashMap<String, LatencyStats>()
    private val cap = capacity
    val actionCounts = LongArray(manifest.numActions)   // decision steps per action
    var skippedFrames: Long = 0; private set            // "skipped" events
    var gmacs: Double = 0.0; private set
    private val artMs = HashMap<String, Double>()
    private val artN = HashMap<String, Long>()
    private val artGmacs = HashMap<String, Double>().apply {
        put("policy", manifest.costs.policyStep)
        manifest.actions.forEachIndexed { a, act ->
            if (!act.isSkip && act.backbone != "policy") put(act.backbone!!, manifest.costs.actions[a])
        }
    }
    /** Sustained rate from the step times (frames / their total time over the last 32). */
    val fps = FpsMeter()

    val decisionSteps: Long get() = actionCounts.sum()
    val frames: Long get() = decisionSteps + skippedFrames

    fun record(e: StepEvent) {
        gmacs += e.gmacs
        if (e.kind == EventKind.SKIPPED) skippedFrames++ else actionCounts[e.action]++
        for ((k, ns) in e.stageNanos) stages.getOrPut(k) { LatencyStats(cap) }.add(ns / 1e6)
        e.stageNanos["step"]?.let { fps.addMs(it / 1e6) }
        e.stageNanos["policy"]?.let { add("policy", it) }
        if (e.backbone != null) e.stageNanos["backbone"]?.let { add(e.backbone, it) }
    }

    private fun add(id: String, ns: Long) {
        artMs[id] = (artMs[id] ?: 0.0) + ns / 1e6
        artN[id] = (artN[id] ?: 0L) + 1
    }

    fun stage(name: String): LatencyStats? = stages[name]

    /** Mean GMACs per sampled frame (skipped frames count as 0); 0 before any frame. */
    fun gmacsPerFrame(): Double = if (frames == 0L) 0.0 else gmacs / frames

    val uniformGmacsPerFrame: Double get() = manifest.uniformCost

    /** Fraction of the uniform baseline's compute saved: 1 - actual/uniform. */
    fun savings(): Double = if (uniformGmacsPerFrame > 0 && frames > 0) 1.0 - gmacsPerFrame() / uniformGmacsPerFrame else 0.0

    /** uniform / actual GMACs per frame, null while nothing was spent. */
    fun speedup(): Double? = gmacsPerFrame().let { if (it > 0) uniformGmacsPerFrame / it else null }

    /** Counts per action name plus "skipped" (sums to [frames]). */
    fun histogram(): Map<String, Long> {
        val h = LinkedHashMap<String, Long>()
        for (a in actionCounts.indices) h[actionName(manifest, a)] = actionCounts[a]
        h["skipped"] = skippedFrames
        return h
    }

    /** Measured ms per GMAC of each network that ran (left out when its cost entry is 0). */
    fun msPerGmac(): Map<String, Double> {
        val out = java.util.TreeMap<String, Double>()
        for ((id, ms) in artMs) {
            val g = artGmacs[id] ?: continue
            val n = artN[id] ?: 0L
            if (n > 0 && g > 0) out[id] = ms / n / g
        }
        return out
    }

    fun clear() {
        stages.clear(); actionCounts.fill(0); skippedFrames = 0; gmacs = 0.0
        artMs.clear(); artN.clear(); fps.reset()
    }
}
