// Compile-only stub of android.graphics.Color from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.graphics;

public class Color {
    public static final int WHITE = 0xFFFFFFFF;
    public static int rgb(int red, int green, int blue) { throw new RuntimeException("Stub!"); }
}
