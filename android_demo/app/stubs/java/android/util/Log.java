// Compile-only stub of android.util.Log from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.util;

public final class Log {
    public static int e(String tag, String msg, Throwable tr) { throw new RuntimeException("Stub!"); }
    public static int w(String tag, String msg, Throwable tr) { throw new RuntimeException("Stub!"); }
}
