// The application module (Gradle root). Versions are pinned here and in
// gradle/wrapper/gradle-wrapper.properties (Gradle 9.3.1).
//
// AGP 9 compiles Kotlin itself ("built-in Kotlin"): no kotlin-android plugin here. The Kotlin
// JVM plugin below is only for :core; declaring it here puts one Kotlin Gradle plugin (2.4.20,
// the compiler the core is tested with) on the build classpath for both modules.
plugins {
    id("com.android.application") version "9.1.0"
    id("org.jetbrains.kotlin.jvm") version "2.4.20" apply false
}

android {
    namespace = "ai.arnet.edge.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "ai.arnet.edge.demo"
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // Keep .tflite files uncompressed in the APK so they can be memory-mapped from assets.
    androidResources {
        noCompress += "tflite"
    }
}

val cameraxVersion = "1.5.3"
val litertVersion = "1.4.2"

dependencies {
    implementation(project(":core"))
    implementation("androidx.appcompat:appcompat:1.7.1")
    implementation("androidx.camera:camera-core:$cameraxVersion")
    implementation("androidx.camera:camera-camera2:$cameraxVersion")
    implementation("androidx.camera:camera-lifecycle:$cameraxVersion")
    implementation("androidx.camera:camera-view:$cameraxVersion")
    // LiteRT (formerly TensorFlow Lite): org.tensorflow.lite.Interpreter + the GPU delegate.
    implementation("com.google.ai.edge.litert:litert:$litertVersion")
    implementation("com.google.ai.edge.litert:litert-gpu:$litertVersion")
}
