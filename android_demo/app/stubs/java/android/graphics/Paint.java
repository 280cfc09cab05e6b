// Compile-only stub of android.graphics.Paint from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.graphics;

public class Paint {
    public static final int ANTI_ALIAS_FLAG = 1;
    public Paint() { throw new RuntimeException("Stub!"); }
    public Paint(int flags) { throw new RuntimeException("Stub!"); }
    public int getColor() { throw new RuntimeException("Stub!"); }
    public void setColor(int color) { throw new RuntimeException("Stub!"); }
    public float getTextSize() { throw new RuntimeException("Stub!"); }
    public void setTextSize(float textSize) { throw new RuntimeException("Stub!"); }
    public float measureText(String text) { throw new RuntimeException("Stub!"); }
}
