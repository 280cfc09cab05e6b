package ai.arnet.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class TelemetryTest {
    @Test
    fun percentilesInterpolateLikeNumpy() {
        val v = doubleArrayOf(5.0, 1.0, 4.0, 2.0, 3.0, 10.0)
        // numpy.percentile([5,1,4,2,3,10], [50, 95]) == [3.5, 8.75]
        assertEquals(3.5, percentile(v, 50.0), 1e-12)
        assertEquals(8.75, percentile(v, 95.0), 1e-12)
        assertEquals(7.0, percentile(doubleArrayOf(7.0), 95.0), 0.0)
        val s = LatencyStats(capacity = 4)
        for (x in listOf(100.0, 1.0, 2.0, 3.0, 4.0)) s.add(x) // ring keeps the last 4
        assertEquals(2.5, s.p50(), 1e-12)
        assertEquals(5L, s.count)
    }

    @Test
    fun batteryFollowsTheBatteryManagerSignConvention() {
        val b = BatteryMeter()
        // discharging 500 mA at 4.0 V for 10 s, then 300 mA: trapezoid over each interval
        b.add(0L, -500_000, 4000)
        b.add(10_000_000_000L, -500_000, 4000)
        assertEquals(500.0, b.drainMa, 1e-9)
        assertEquals(2000.0, b.powerMw, 1e-9)
        assertEquals(20_000.0, b.energyMj, 1e-6)          // 2 W x 10 s = 20 J
        assertEquals(500.0 * 10 / 3600, b.chargeMah, 1e-9)
        b.add(20_000_000_000L, -300_000, 4000)
        assertEquals(20_000.0 + (2000.0 + 1200.0) / 2 * 10, b.energyMj, 1e-6)
        assertEquals(36_000.0 / 20, b.meanPowerMw(), 1e-9) // 36 J over 20 s
        assertFalse(b.charging)
        // positive current = charging: negative drain
        b.add(30_000_000_000L, 1_000_000, 4200)
        assertTrue(b.charging)
        assertEquals(-1000.0, b.drainMa, 1e-9)
        // devices reporting mA
        val mA = BatteryMeter(currentScale = 1000.0)
        mA.add(0, -450, 3900)
        assertEquals(450.0, mA.drainMa, 1e-9)
        // unknown voltage: power unknown, charge still integrates
        val nv = BatteryMeter()
        nv.add(0, -100_000, null); nv.add(3_600_000_000_000L, -100_000, null)
        assertTrue(nv.powerMw.isNaN())
        assertEquals(100.0, nv.chargeMah, 1e-9)
    }

    private fun event(kind: String, action: Int, gmacs: Double, stages: Map<String, Long>, backbone: String? = null) =
        StepEvent(0, kind, action, null, null, null, null, emptyList(), null, -1, gmacs, stages, 0.0, backbone)

    @Test
    fun telemetryGmacsHistogramAndMsPerGmac() {
        val m = handmadeManifest()
        val t = Telemetry(m)
        t.record(event("resolution", 0, m.actionCost(0), mapOf("policy" to 2_000_000L, "backbone" to 6_000_000L, "step" to 9_000_000L), "backbone_224"))
        t.record(event("skip", 6, m.actionCost(6), mapOf("policy" to 2_000_000L, "step" to 2_500_000L)))
        repeat(3) { t.record(event("skipped", 6, 0.0, mapOf("step" to 500_000L))) }
        t.record(event("resolution", 3, m.actionCost(3), mapOf("policy" to 4_000_000L, "step" to 4_000_000L)))
        assertEquals(6L, t.frames)
        assertEquals(3L, t.decisionSteps)
        assertEquals(3L, t.skippedFrames)
        val g = (1.75 + 0.25 + 0.25) / 6
        assertEquals(g, t.gmacsPerFrame(), 1e-12)
        assertEquals(1.5 / g, t.speedup()!!, 1e-12)
        assertEquals(1 - g / 1.5, t.savings(), 1e-12)
        assertEquals(mapOf("res224" to 1L, "res168" to 0L, "res112" to 0L, "res84" to 1L, "skip1" to 0L, "skip2" to 0L,
            "skip4" to 1L, "skipped" to 3L), t.histogram())
        val mpg = t.msPerGmac()
        assertEquals(setOf("policy", "backbone_224"), mpg.keys)
        assertEquals(8.0 / 3 / 0.25, mpg["policy"]!!, 1e-12)
        assertEquals(6.0 / 1.5, mpg["backbone_224"]!!, 1e-12)
        assertEquals(2.0, t.stage("policy")!!.p50(), 1e-12)
        assertEquals(1000.0 * 6 / (9 + 2.5 + 1.5 + 4), t.fps.fps!!, 1e-9)
        t.clear()
        assertEquals(0.0, t.gmacsPerFrame(), 0.0)
        assertEquals(null, t.speedup())
    }

    @Test
    fun fpsMeterOverTheLastFrames() {
        val f = FpsMeter(window = 2)
        assertEquals(null, f.fps)
        f.tick(0); assertEquals(null, f.fps)
        f.tick(100_000_000); f.tick(300_000_000); f.tick(400_000_000) // 100, 200, 100 ms -> last 2
        assertEquals(1000.0 * 2 / 300, f.fps!!, 1e-12)
    }

    @Test
    fun budgetControllerUpdatesEveryNStepsAndClamps() {
        val fps = BudgetController(targetFps = 10.0)
        repeat(7) { assertEquals(0.0, fps.update(measuredFps = 5.0), 0.0) }
        assertEquals(1.0, fps.update(measuredFps = 5.0), 1e-12)  // e = (10 - 5)/10 = 0.5, k = 2
        repeat(8) { fps.update(measuredFps = 20.0) }              // e = -1 -> clamp at 0
        assertEquals(0.0, fps.lambda, 0.0)
        val p = BudgetController(targetMw = 1000.0, updateEvery = 1, lambdaMax = 3.0)
        assertEquals(2.0, p.update(measuredMw = 2000.0), 1e-12)
        assertEquals(3.0, p.update(measuredMw = 5000.0), 1e-12)   // clamp at lambda_max
        assertEquals(3.0, p.update(measuredMw = Double.NaN), 0.0) // non-finite e: unchanged
        assertEquals(3.0, p.update(), 0.0)                        // nothing measured: unchanged
        // both targets: the tighter one (max e) drives
        val both = BudgetController(targetFps = 10.0, targetMw = 1000.0, updateEvery = 1)
        assertEquals(2 * 0.5, both.update(measuredFps = 9.0, measuredMw = 1500.0), 1e-12)
        assertEquals(0.5, both.lastError!!, 1e-12)
        assertFalse(BudgetController().active)
        try { BudgetController(targetFps = 0.0); fail() } catch (_: IllegalArgumentException) {}
    }

    @Test
    fun stepClockSamplesOnAFixedCadence() {
        val c = StepClock(0.25)
        val ms = 1_000_000L
        val due = listOf(0L, 100, 249, 250, 260, 499, 500, 1400, 1500, 1650).map { c.due(it * ms) }
        // 0 due; 250 due; 500 due; 1400 late by > 1 period: due and restart from 1400 -> next 1650
        assertEquals(listOf(true, false, false, true, false, false, true, true, false, true), due)
    }

    @Test
    fun deploymentPlansAndRefuses() {
        val m = handmadeManifest()
        assertEquals(listOf("fp32", "int8"), Deployment.precisions(m))
        val plan = Deployment.plan(m, "int8")
        assertEquals(listOf("policy", "backbone_224", "backbone_168", "backbone_112"), plan.keys.toList())
        assertEquals("policy_int8.tflite", plan["policy"]!!.file)
        try { Deployment.plan(m, "fp16"); fail() } catch (e: ManifestError) {
            assertTrue(e.message!!, e.message!!.contains("no artifact 'policy' for litert/fp16/tflite"))
        }
        try { Deployment.plan(m, "fp32") { it != "backbone_168_fp32.tflite" }; fail() } catch (e: ManifestError) {
            assertTrue(e.message!!, e.message!!.contains("handmade.artifacts[2].file: 'backbone_168_fp32.tflite' is missing"))
        }
        val d = handmadeManifestJson()
        d.getJSONObject("policy").put("hidden", 8)
        try { Deployment.plan(Manifest.fromJson(d, "x.json"), "fp32"); fail() } catch (e: ManifestError) {
            assertTrue(e.message!!, e.message!!.contains("h has 4 values, policy.hidden is 8"))
        }
    }

    @Test
    fun sha256OfAStream() {
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            sha256Hex("abc".byteInputStream()))
    }
}
