// Compile-only stub of android.graphics.Canvas from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.graphics;

public class Canvas {
    public Canvas() { throw new RuntimeException("Stub!"); }
    public void drawRect(float left, float top, float right, float bottom, Paint paint) { throw new RuntimeException("Stub!"); }
    public void drawText(String text, float x, float y, Paint paint) { throw new RuntimeException("Stub!"); }
}
