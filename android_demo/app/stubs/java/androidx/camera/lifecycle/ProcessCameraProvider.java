// Compile-only stub of androidx.camera.lifecycle.ProcessCameraProvider from androidx.camera:camera-lifecycle 1.5.3: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.camera.lifecycle;

public final class ProcessCameraProvider {
    ProcessCameraProvider() { throw new RuntimeException("Stub!"); }
    public static com.google.common.util.concurrent.ListenableFuture<ProcessCameraProvider> getInstance(android.content.Context context) { throw new RuntimeException("Stub!"); }
    public void unbindAll() { throw new RuntimeException("Stub!"); }
    public androidx.camera.core.Camera bindToLifecycle(androidx.lifecycle.LifecycleOwner lifecycleOwner,
            androidx.camera.core.CameraSelector cameraSelector, androidx.camera.core.UseCase... useCases) { throw new RuntimeException("Stub!"); }
}
