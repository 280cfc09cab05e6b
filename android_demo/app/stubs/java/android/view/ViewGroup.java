// Compile-only stub of android.view.ViewGroup from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.view;

public abstract class ViewGroup extends View {
    public ViewGroup(android.content.Context context) { super(context); throw new RuntimeException("Stub!"); }
}
