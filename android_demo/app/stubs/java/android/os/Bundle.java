// Compile-only stub of android.os.Bundle from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.os;

public final class Bundle { public Bundle() { throw new RuntimeException("Stub!"); } }
