// Compile-only stub of android.widget.TextView from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.widget;

public class TextView extends android.view.View {
    public TextView(android.content.Context context) { super(context); throw new RuntimeException("Stub!"); }
    public CharSequence getText() { throw new RuntimeException("Stub!"); }
    public final void setText(CharSequence text) { throw new RuntimeException("Stub!"); }
}
