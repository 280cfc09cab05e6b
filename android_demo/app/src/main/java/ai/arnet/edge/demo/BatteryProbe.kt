package ai.arnet.edge.demo

import ai.arnet.edge.core.BatteryMeter
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.BatteryManager
import androidx.core.content.ContextCompat

/**
 * Samples BatteryManager at most once per [periodNanos] into core's [BatteryMeter]:
 * BATTERY_PROPERTY_CURRENT_NOW in µA (negative = discharging) and the voltage in mV from the
 * sticky ACTION_BATTERY_CHANGED intent. Devices that do not report the current give nothing.
 */
class BatteryProbe(context: Context, private val periodNanos: Long = 1_000_000_000L) {
    private val app = context.applicationContext
    private val bm = app.getSystemService(BatteryManager::class.java)
    private var last = Long.MIN_VALUE
    val meter = BatteryMeter()

    /** False when the device does not report the instantaneous current. */
    var supported = true
        private set

    fun sample(tNanos: Long) {
        if (!supported || (last != Long.MIN_VALUE && tNanos - last < periodNanos)) return
        last = tNanos
        val ua = bm?.getLongProperty(BatteryManager.BATTERY_PROPERTY_CURRENT_NOW) ?: Long.MIN_VALUE
        if (ua == Long.MIN_VALUE || ua == 0L) {
            supported = meter.samples > 0
            return
        }
        val intent = ContextCompat.registerReceiver(app, null, IntentFilter(Intent.ACTION_BATTERY_CHANGED),
            ContextCompat.RECEIVER_NOT_EXPORTED)
        val mv = intent?.getIntExtra(BatteryManager.EXTRA_VOLTAGE, -1)?.takeIf { it > 0 }
        meter.add(tNanos, ua, mv)
    }

    fun reset() { meter.clear(); last = Long.MIN_VALUE; supported = true }
}
