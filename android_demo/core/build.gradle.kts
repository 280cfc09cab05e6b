// :core — plain Kotlin/JVM (no Android API): manifest, streaming loop, telemetry, quantisation.
// Used by the app (../app) as a Gradle module. Without Gradle, `bash run_tests.sh` compiles and
// tests it with kotlinc + JUnit on any JDK 17 (what `make android-test` runs).
plugins {
    id("org.jetbrains.kotlin.jvm")
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
    }
}

// Android's own org.json: provided by the platform on a device; the same API from Maven for
// compiling and for the JVM tests (run_tests.sh uses Debian's libandroid-json-org-java).
val androidJson = "com.vaadin.external.google:android-json:0.0.20131108.vaadin1"

dependencies {
    compileOnly(androidJson)
    testImplementation(androidJson)
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // TestMain is the kotlinc runner's entry point, not a test class
    exclude("**/TestMain*")
}
