// Compile-only stub of android.view.ContextThemeWrapper from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.view;

public class ContextThemeWrapper extends android.content.ContextWrapper { public ContextThemeWrapper() { super(null); throw new RuntimeException("Stub!"); } }
