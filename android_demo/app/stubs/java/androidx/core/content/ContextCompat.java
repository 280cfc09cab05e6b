// Compile-only stub of androidx.core.content.ContextCompat from androidx.core:core 1.13.0 (via appcompat 1.7.1): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.core.content;

public class ContextCompat {
    public static final int RECEIVER_EXPORTED = 0x2;
    public static final int RECEIVER_NOT_EXPORTED = 0x4;
    protected ContextCompat() { throw new RuntimeException("Stub!"); }
    public static int checkSelfPermission(android.content.Context context, String permission) { throw new RuntimeException("Stub!"); }
    public static java.util.concurrent.Executor getMainExecutor(android.content.Context context) { throw new RuntimeException("Stub!"); }
    public static android.content.Intent registerReceiver(android.content.Context context,
            android.content.BroadcastReceiver receiver, android.content.IntentFilter filter, int flags) { throw new RuntimeException("Stub!"); }
}
