// Compile-only stub of androidx.camera.core.CameraSelector from androidx.camera:camera-core 1.5.3: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.camera.core;

public final class CameraSelector {
    public static final CameraSelector DEFAULT_BACK_CAMERA = null;
    public static final CameraSelector DEFAULT_FRONT_CAMERA = null;
    CameraSelector() { throw new RuntimeException("Stub!"); }
}
