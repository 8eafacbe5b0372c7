package dev.stowage.staging;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * S3Proxy on a file system blob store, as a process, for the S3 throughput benchmark
 * (bench/scripts/s3-throughput.sh): {@code S3ProxyMain PORT DIR BUCKET}, credentials access/secret.
 * Runs until killed.
 */
public final class S3ProxyMain {
  private S3ProxyMain() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    Path dir = Files.createDirectories(Path.of(args[1]));
    var properties = new Properties();
    properties.setProperty("jclouds.filesystem.basedir", dir.toString());
    var context =
        ContextBuilder.newBuilder("filesystem")
            .credentials("identity", "credential")
            .overrides(properties)
            .build(BlobStoreContext.class);
    context.getBlobStore().createContainerInLocation(null, args[2]);
    var server =
        S3Proxy.builder()
            .blobStore(context.getBlobStore())
            .endpoint(URI.create("http://127.0.0.1:" + port))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "access", "secret")
            .ignoreUnknownHeaders(true)
            .build();
    server.start();
    System.out.println("S3Proxy listening on http://127.0.0.1:" + port);
  }
}
