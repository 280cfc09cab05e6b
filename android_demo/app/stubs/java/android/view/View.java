// Compile-only stub of android.view.View from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.view;

public class View {
    public static final int VISIBLE = 0;
    public static final int INVISIBLE = 4;
    public static final int GONE = 8;
    public interface OnClickListener { void onClick(View v); }
    public View(android.content.Context context) { throw new RuntimeException("Stub!"); }
    public View(android.content.Context context, android.util.AttributeSet attrs) { throw new RuntimeException("Stub!"); }
    public void invalidate() { throw new RuntimeException("Stub!"); }
    protected void onDraw(android.graphics.Canvas canvas) { throw new RuntimeException("Stub!"); }
    public final int getWidth() { throw new RuntimeException("Stub!"); }
    public final int getHeight() { throw new RuntimeException("Stub!"); }
    public void setOnClickListener(OnClickListener l) { throw new RuntimeException("Stub!"); }
    public int getVisibility() { throw new RuntimeException("Stub!"); }
    public void setVisibility(int visibility) { throw new RuntimeException("Stub!"); }
}
