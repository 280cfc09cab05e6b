// Compile-only stub of android.content.IntentFilter from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.content;

public class IntentFilter { public IntentFilter(String action) { throw new RuntimeException("Stub!"); } }
