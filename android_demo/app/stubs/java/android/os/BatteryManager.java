// Compile-only stub of android.os.BatteryManager from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.os;

public class BatteryManager {
    public static final int BATTERY_PROPERTY_CURRENT_NOW = 2;
    public static final String EXTRA_VOLTAGE = "voltage";
    BatteryManager() { throw new RuntimeException("Stub!"); }
    public long getLongProperty(int id) { throw new RuntimeException("Stub!"); }
}
