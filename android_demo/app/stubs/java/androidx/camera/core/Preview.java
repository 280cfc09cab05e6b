// Compile-only stub of androidx.camera.core.Preview from androidx.camera:camera-core 1.5.3: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.camera.core;

public final class Preview extends UseCase {
    public interface SurfaceProvider {}
    Preview() { throw new RuntimeException("Stub!"); }
    public void setSurfaceProvider(SurfaceProvider surfaceProvider) { throw new RuntimeException("Stub!"); }
    public static final class Builder {
        public Builder() { throw new RuntimeException("Stub!"); }
        public Preview build() { throw new RuntimeException("Stub!"); }
    }
}
