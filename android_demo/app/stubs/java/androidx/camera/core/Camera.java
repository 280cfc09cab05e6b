// Compile-only stub of androidx.camera.core.Camera from androidx.camera:camera-core 1.5.3: the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.camera.core;

public interface Camera {}
