package dev.stowage.staging;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.LongConsumer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.ChecksumType;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.transfer.s3.S3TransferManager;
import software.amazon.awssdk.transfer.s3.model.CompletedFileDownload;
import software.amazon.awssdk.transfer.s3.model.DownloadFileRequest;
import software.amazon.awssdk.transfer.s3.model.UploadFileRequest;
import software.amazon.awssdk.transfer.s3.progress.TransferListener;

/**
 * S3-compatible object storage through the AWS SDK's CRT-based client and its transfer manager:
 * large objects move as parallel range GETs and multipart uploads, and response checksums are
 * validated when the object carries them. Not every server keeps checksums (S3Proxy, for one, keeps
 * none), so each upload also records the file's CRC32C in the object's metadata, and a download
 * whose object has one (or a full-object CRC32C of S3's own) is checked against it. Configured the
 * standard way: credentials and region from the SDK's default chains ({@code AWS_ACCESS_KEY_ID},
 * {@code AWS_REGION}, {@code ~/.aws}, …), and the endpoint of a non-AWS server from {@code
 * AWS_ENDPOINT_URL_S3} or {@code AWS_ENDPOINT_URL} (path-style addressing then, as such servers
 * expect).
 */
public final class S3Storage implements AutoCloseable {
  /** One object as listed. */
  record ObjectInfo(String key, long size, String eTag) {}

  /**
   * User metadata holding an uploaded file's CRC32C, as S3 writes checksums: base64, big-endian.
   */
  static final String CRC32C_METADATA = "stowage-crc32c";

  private final S3AsyncClient client;
  private final S3TransferManager transfers;
  private final String where; // for messages: the endpoint, or "AWS S3"

  private S3Storage(S3AsyncClient client, String where) {
    this.client = client;
    this.transfers = S3TransferManager.builder().s3Client(client).build();
    this.where = where;
  }

  /**
   * From the environment, as the AWS CLI and SDKs read it: keys in {@code env} first, else the
   * SDK's default chain (which also reads {@code ~/.aws} and instance roles).
   */
  public static S3Storage fromEnvironment(Function<String, String> env) {
    String endpoint = firstSet(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    String keyId = firstSet(env, "AWS_ACCESS_KEY_ID");
    String secret = firstSet(env, "AWS_SECRET_ACCESS_KEY");
    String session = firstSet(env, "AWS_SESSION_TOKEN");
    AwsCredentialsProvider credentials =
        keyId != null && secret != null
            ? StaticCredentialsProvider.create(
                session != null
                    ? AwsSessionCredentials.create(keyId, secret, session)
                    : AwsBasicCredentials.create(keyId, secret))
            : DefaultCredentialsProvider.builder().build();
    return create(
        endpoint == null ? null : URI.create(endpoint),
        credentials,
        firstSet(env, "AWS_REGION", "AWS_DEFAULT_REGION"),
        8L << 20);
  }

  /**
   * @param endpoint a non-AWS server (path-style addressing), or null for AWS S3
   * @param region null: the SDK's default chain, else {@code us-east-1}
   * @param partSize the size of each range GET and upload part
   */
  public static S3Storage create(
      URI endpoint, AwsCredentialsProvider credentials, String region, long partSize) {
    var builder =
        S3AsyncClient.crtBuilder()
            .credentialsProvider(credentials)
            .region(Region.of(region != null ? region : defaultRegion()))
            .checksumValidationEnabled(true)
            .minimumPartSizeInBytes(partSize)
            .targetThroughputInGbps(10.0);
    if (endpoint != null) {
      builder.endpointOverride(endpoint).forcePathStyle(true);
    }
    return new S3Storage(builder.build(), endpoint != null ? endpoint.toString() : "AWS S3");
  }

  private static String defaultRegion() {
    try {
      return new DefaultAwsRegionProviderChain().getRegion().id();
    } catch (SdkClientException e) {
      return "us-east-1"; // S3 answers there for any bucket; a named one is found from it
    }
  }

  private static String firstSet(Function<String, String> env, String... names) {
    for (String name : names) {
      String v = env.apply(name);
      if (v != null && !v.isBlank()) {
        return v.strip();
      }
    }
    return null;
  }

  /** Every object under {@code prefix}, in key order. */
  List<ObjectInfo> list(String bucket, String prefix) throws StagingException {
    var out = new ArrayList<ObjectInfo>();
    try {
      client
          .listObjectsV2Paginator(r -> r.bucket(bucket).prefix(prefix))
          .contents()
          .subscribe(o -> out.add(new ObjectInfo(o.key(), o.size(), o.eTag())))
          .join();
    } catch (CompletionException e) {
      throw failure("s3://" + bucket + "/" + prefix, e.getCause());
    }
    return out;
  }

  /** One object's size and ETag. */
  ObjectInfo head(String bucket, String key) throws StagingException {
    try {
      HeadObjectResponse h =
          client
              .headObject(r -> r.bucket(bucket).key(key).checksumMode(ChecksumMode.ENABLED))
              .join();
      return new ObjectInfo(key, h.contentLength(), h.eTag());
    } catch (CompletionException e) {
      var failure = failure("s3://" + bucket + "/" + key, e.getCause());
      // A HEAD's 404 has no body to say which is missing: ask about the bucket.
      if (failure.getMessage().endsWith(": no such key") && !bucketExists(bucket)) {
        throw new StagingException("source s3://" + bucket + "/" + key + ": no such bucket");
      }
      throw failure;
    }
  }

  private boolean bucketExists(String bucket) {
    try {
      client.headBucket(r -> r.bucket(bucket)).join();
      return true;
    } catch (CompletionException e) {
      return !(e.getCause() instanceof S3Exception s && s.statusCode() == 404);
    }
  }

  /**
   * Downloads one object to {@code file}, in parallel ranges, reporting bytes as they arrive; then
   * checks the file against the object's CRC32C when it has one (without, only its length can be
   * checked, which the caller does).
   */
  void download(String bucket, String key, Path file, LongConsumer progress)
      throws StagingException, IOException {
    String uri = "s3://" + bucket + "/" + key;
    CompletedFileDownload done =
        await(
            uri,
            transfers
                .downloadFile(
                    DownloadFileRequest.builder()
                        .getObjectRequest(
                            r -> r.bucket(bucket).key(key).checksumMode(ChecksumMode.ENABLED))
                        .destination(file)
                        .addTransferListener(listener(progress))
                        .build())
                .completionFuture());
    GetObjectResponse response = done.response();
    String expected = response.metadata().get(CRC32C_METADATA);
    if (expected == null
        && response.checksumCRC32C() != null
        && response.checksumType() == ChecksumType.FULL_OBJECT) {
      expected = response.checksumCRC32C();
    }
    if (expected == null) {
      return;
    }
    String got = base64(FileCopy.crc32c(file));
    if (!got.equals(expected)) {
      throw new StagingException(
          uri
              + ": the bytes received have CRC32C "
              + got
              + ", the object's is "
              + expected
              + " (damaged in transit, or the object changed while it was read)");
    }
  }

  private static String base64(long crc32c) {
    byte[] bytes = {
      (byte) (crc32c >>> 24), (byte) (crc32c >>> 16), (byte) (crc32c >>> 8), (byte) crc32c
    };
    return java.util.Base64.getEncoder().encodeToString(bytes);
  }

  /**
   * Uploads {@code file} (multipart when large) with CRC32C checksums for each part, which S3
   * checks on arrival.
   */
  void upload(Path file, String bucket, String key, LongConsumer progress)
      throws StagingException, IOException {
    // The whole file's CRC32C, kept with the object, for downloads to check against.
    String crc32c = base64(FileCopy.crc32c(file));
    await(
        "s3://" + bucket + "/" + key,
        transfers
            .uploadFile(
                UploadFileRequest.builder()
                    .putObjectRequest(
                        r ->
                            r.bucket(bucket)
                                .key(key)
                                .checksumAlgorithm(ChecksumAlgorithm.CRC32_C)
                                .metadata(java.util.Map.of(CRC32C_METADATA, crc32c)))
                    .source(file)
                    .addTransferListener(listener(progress))
                    .build())
            .completionFuture());
  }

  private <T> T await(String uri, java.util.concurrent.CompletableFuture<T> transfer)
      throws StagingException {
    try {
      return transfer.join();
    } catch (CompletionException e) {
      throw failure(uri, e.getCause());
    }
  }

  private static TransferListener listener(LongConsumer progress) {
    return new TransferListener() {
      private long reported;

      @Override
      public synchronized void bytesTransferred(Context.BytesTransferred context) {
        long now = context.progressSnapshot().transferredBytes();
        if (now > reported) {
          progress.accept(now - reported);
          reported = now;
        }
      }
    };
  }

  /** An SDK failure as a person reads it: which object, and what S3 (or the network) said. */
  private StagingException failure(String uri, Throwable cause) {
    Throwable c = cause;
    while (c instanceof CompletionException && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof NoSuchKeyException
        || (c instanceof S3Exception s
            && s.statusCode() == 404
            && !(c instanceof NoSuchBucketException))) {
      return new StagingException("source " + uri + ": no such key");
    }
    if (c instanceof NoSuchBucketException) {
      return new StagingException("source " + uri + ": no such bucket");
    }
    if (c instanceof S3Exception s) {
      String code = s.awsErrorDetails() != null ? s.awsErrorDetails().errorCode() : null;
      return new StagingException(
          uri
              + ": S3 answered "
              + s.statusCode()
              + (code != null ? " " + code : "")
              + " ("
              + where
              + ")");
    }
    if (c instanceof SdkClientException
        && c.getMessage() != null
        && c.getMessage().startsWith("Unable to load credentials")) {
      return new StagingException(
          uri
              + ": no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or"
              + " a profile in ~/.aws (AWS_PROFILE)");
    }
    if (c instanceof IOException || c instanceof SdkClientException) {
      return new StagingException(uri + ": " + c.getMessage() + " (" + where + ")");
    }
    return new StagingException(uri + ": " + c);
  }

  @Override
  public void close() {
    transfers.close();
    client.close();
  }
}
