// Compile-only stub of android.content.BroadcastReceiver from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.content;

public abstract class BroadcastReceiver {
    public BroadcastReceiver() { throw new RuntimeException("Stub!"); }
    public abstract void onReceive(Context context, Intent intent);
}
