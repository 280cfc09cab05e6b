// Compile-only stub of android.widget.Button from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.widget;

public class Button extends TextView {
    public Button(android.content.Context context) { super(context); throw new RuntimeException("Stub!"); }
}
