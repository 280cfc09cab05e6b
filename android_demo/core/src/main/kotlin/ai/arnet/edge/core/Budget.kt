package ai.arnet.edge.core

/** docs/STREAMING.md "Budget". */
object Budget {
    /**
     * b_a = cost_a / max_a cost_a with cost_a = `costs.policy_step + costs.actions[a]` (or
     * [perStepCost], e.g. measured ms per action), divided by F for a skip action (amortised over
     * the frames it covers). All zeros when every cost is 0.
     */
    fun normalizedCosts(m: Manifest, perStepCost: DoubleArray? = null): DoubleArray {
        val L = m.numResolutions
        val cost = DoubleArray(m.numActions) { a ->
            val base = perStepCost?.get(a) ?: m.actionCost(a)
            if (a >= L) base / m.skipLengths[a - L] else base
        }
        val mx = cost.maxOrNull() ?: 0.0
        return if (mx > 0) DoubleArray(cost.size) { cost[it] / mx } else DoubleArray(cost.size)
    }
}

/**
 * Keeps λ >= 0 so the stream meets a frame-rate and/or power target (the same controller as
 * `edge_runtime/budget.py`). Call [update] once per sampled step (decision and skipped alike)
 * with the current measurements; on calls number `updateEvery`, `2·updateEvery`, ... it applies
 * `λ <- clamp(λ + k·e, 0, λmax)` using the measurements passed to that call, with
 * `e_fps = (target_fps - fps)/target_fps`, `e_mw = (mw - target_mw)/target_mw` and
 * `e = max` of the terms that have both a target and a measurement (positive = over budget; no
 * term, or a non-finite e, leaves λ unchanged).
 */
class BudgetController(
    val targetFps: Double? = null,
    val targetMw: Double? = null,
    val k: Double = 2.0,
    val lambdaMax: Double = 20.0,
    val updateEvery: Int = 8,
) {
    init {
        for ((name, v) in listOf("target_fps" to targetFps, "target_mw" to targetMw)) {
            require(v == null || (v.isFinite() && v > 0)) { "$name must be a positive number, got $v" }
        }
        require(updateEvery >= 1) { "update_every must be >= 1, got $updateEvery" }
        require(lambdaMax >= 0 && k >= 0) { "k and lambda_max must be >= 0, got k=$k, lambda_max=$lambdaMax" }
    }

    val active: Boolean get() = targetFps != null || targetMw != null
    var lambda: Double = 0.0
        private set
    var lastError: Double? = null
        private set
    private var steps = 0L

    /** Relative over-budget error (positive = over budget), null if nothing to compare. */
    fun error(measuredFps: Double?, measuredMw: Double?): Double? {
        val errs = ArrayList<Double>()
        if (targetFps != null && measuredFps != null) errs.add((targetFps - measuredFps) / targetFps)
        if (targetMw != null && measuredMw != null) errs.add((measuredMw - targetMw) / targetMw)
        return errs.maxOrNull()
    }

    fun update(measuredFps: Double? = null, measuredMw: Double? = null): Double {
        steps++
        if (steps % updateEvery != 0L) return lambda
        val e = error(measuredFps, measuredMw)
        lastError = e
        if (e == null || !e.isFinite()) return lambda
        lambda = (lambda + k * e).coerceIn(0.0, lambdaMax)
        return lambda
    }

    fun reset() { lambda = 0.0; steps = 0; lastError = null }
}
