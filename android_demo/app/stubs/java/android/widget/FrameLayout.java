// Compile-only stub of android.widget.FrameLayout from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.widget;

public class FrameLayout extends android.view.ViewGroup {
    public FrameLayout(android.content.Context context) { super(context); throw new RuntimeException("Stub!"); }
}
