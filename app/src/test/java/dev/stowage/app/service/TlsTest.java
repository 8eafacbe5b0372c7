package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Resources;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HTTPS from PEM files, and no plain HTTP beyond loopback. */
class TlsTest {
  @TempDir Path tmp;

  @Test
  void theServiceServesHttpsFromPemFilesAndStillWantsAToken() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    var keys = KeyPairGenerator.getInstance("EC").generateKeyPair();
    var now = Instant.now();
    var name = new X500Name("CN=localhost");
    var builder =
        new JcaX509v3CertificateBuilder(
                name,
                BigInteger.ONE,
                Date.from(now.minusSeconds(60)),
                Date.from(now.plus(Duration.ofDays(1))),
                name,
                keys.getPublic())
            .addExtension(
                Extension.subjectAlternativeName,
                false,
                new GeneralNames(
                    new GeneralName[] {
                      new GeneralName(GeneralName.dNSName, "localhost"),
                      new GeneralName(GeneralName.iPAddress, "127.0.0.1")
                    }));
    X509Certificate cert =
        new JcaX509CertificateConverter()
            .getCertificate(
                builder.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
    Path certFile = tmp.resolve("cert.pem");
    Path keyFile = tmp.resolve("key.pem");
    Files.writeString(certFile, pem(cert));
    // As openssl writes keys: PKCS#8, "BEGIN PRIVATE KEY".
    Files.writeString(
        keyFile,
        pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(keys.getPrivate(), null)));

    var nodes = List.of(new SimulatedCluster.Node("n", new Resources(1000, 1024, 0, 0), Map.of()));
    var config =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(100))
            .cluster(new StowageService.Cluster.Simulated(nodes))
            .maxTasksPerCycle(10)
            .exposure(
                new StowageService.Exposure(
                    "127.0.0.1",
                    List.of(),
                    new StowageService.Exposure.Tls(certFile, keyFile),
                    false));
    try (var service = config.start()) {
      assertThat(service.url()).startsWith("https://127.0.0.1:");
      var trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("stowage", cert);
      var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      var ssl = SSLContext.getInstance("TLS");
      ssl.init(null, tmf.getTrustManagers(), null);
      var http = HttpClient.newBuilder().sslContext(ssl).build();
      String token = Files.readString(service.adminTokenFile()).strip();

      var anonymous =
          http.send(
              HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(anonymous.statusCode()).isEqualTo(401);
      var authorized =
          http.send(
              HttpRequest.newBuilder(URI.create(service.url() + "/api/whoami"))
                  .header("Authorization", "Bearer " + token)
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(authorized.statusCode()).isEqualTo(200);
      assertThat(authorized.body()).contains("\"admin\"");

      String plainUrl = service.url().replace("https://", "http://");
      assertThatThrownBy(
              () ->
                  HttpClient.newHttpClient()
                      .send(
                          HttpRequest.newBuilder(URI.create(plainUrl + "/api/health")).build(),
                          HttpResponse.BodyHandlers.ofString())
                      .statusCode())
          .as("plain HTTP on the TLS port gets no answer")
          .isInstanceOf(java.io.IOException.class);
    }
  }

  @Test
  void listeningBeyondLoopbackNeedsTlsOrAProxyInFront() {
    assertThatThrownBy(() -> new StowageService.Exposure("0.0.0.0", List.of(), null, false))
        .hasMessage(
            "--host 0.0.0.0 listens beyond loopback: give --tls-cert and --tls-key, or"
                + " --behind-proxy when a proxy terminates TLS in front of Stowage");
    assertThat(new StowageService.Exposure("0.0.0.0", List.of("stowage.example"), null, true))
        .isNotNull();
    assertThat(
            Exposures.hostNames(
                new StowageService.Exposure(
                    "127.0.0.1", List.of("Stowage.Example:443"), null, false)))
        .contains("localhost", "127.0.0.1", "[::1]", "stowage.example");
  }

  private static String pem(Object o) throws Exception {
    var out = new StringWriter();
    try (var w = new JcaPEMWriter(out)) {
      w.writeObject(o);
    }
    return out.toString();
  }
}
