// Compile-only stub of android.util.AttributeSet from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.util;

public interface AttributeSet {}
