package dev.stowage.app.service;

import dev.stowage.app.service.StowageService.Exposure;
import io.javalin.config.JavalinConfig;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/** How the API is reached: the address it listens on, TLS, and the names it answers to. */
final class Exposures {
  private Exposures() {}

  /** Whether {@code host} is a loopback address (or names one). */
  static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /**
   * The names a request's Host header may carry: loopback's, the listening address, every address
   * of this machine when it listens on all of them, and the configured public names.
   */
  static Set<String> hostNames(Exposure exposure) {
    var names = new TreeSet<String>(List.of("localhost", "127.0.0.1", "[::1]"));
    InetAddress listen;
    try {
      listen = InetAddress.getByName(exposure.host());
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("--host: no such address '" + exposure.host() + "'");
    }
    names.add(exposure.host().toLowerCase(Locale.ROOT));
    names.add(literal(listen));
    if (listen.isAnyLocalAddress()) {
      try {
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
          for (InetAddress a : Collections.list(nic.getInetAddresses())) {
            names.add(literal(a));
          }
        }
        names.add(InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT));
      } catch (SocketException | UnknownHostException e) {
        // the configured names still apply
      }
    }
    for (String h : exposure.publicHosts()) {
      String name = ApiGuard.hostName(h);
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException("--public-host: not a host name: '" + h + "'");
      }
      names.add(name);
    }
    return names;
  }

  private static String literal(InetAddress a) {
    String s = a.getHostAddress();
    int zone = s.indexOf('%');
    if (zone >= 0) {
      s = s.substring(0, zone);
    }
    return (a instanceof java.net.Inet6Address ? "[" + s + "]" : s).toLowerCase(Locale.ROOT);
  }

  /** Listens on the exposure's address: plain HTTP, or HTTPS with its PEM files. */
  static void listen(JavalinConfig config, Exposure exposure, int port) {
    if (exposure.tls() == null) {
      config.jetty.host = exposure.host();
      config.jetty.port = port;
      return;
    }
    KeyStore keys = keyStore(exposure.tls());
    config.jetty.addConnector(
        (server, http) -> {
          var ssl = new SslContextFactory.Server();
          ssl.setKeyStore(keys);
          ssl.setKeyStorePassword("");
          var connector =
              new ServerConnector(
                  server,
                  ssl,
                  new org.eclipse.jetty.server.HttpConnectionFactory(withSecureRequests(http)));
          connector.setHost(exposure.host());
          connector.setPort(port);
          return connector;
        });
  }

  private static org.eclipse.jetty.server.HttpConfiguration withSecureRequests(
      org.eclipse.jetty.server.HttpConfiguration http) {
    var secure = new org.eclipse.jetty.server.HttpConfiguration(http);
    var customizer = new org.eclipse.jetty.server.SecureRequestCustomizer();
    // A certificate for a name, used at an address: the Host check guards names, not SNI.
    customizer.setSniHostCheck(false);
    secure.addCustomizer(customizer);
    return secure;
  }

  /** The certificate chain and key from PEM files, as a key store Jetty takes. */
  static KeyStore keyStore(Exposure.Tls tls) {
    List<Certificate> chain = new ArrayList<>();
    PrivateKey key = null;
    try {
      var certificates = new JcaX509CertificateConverter();
      for (Object o : pemObjects(tls.certificateChain(), "--tls-cert")) {
        if (o instanceof X509CertificateHolder holder) {
          chain.add(certificates.getCertificate(holder));
        }
      }
      // Bouncy Castle's own provider reads every key form openssl writes (PKCS#8, PKCS#1, SEC1).
      var keys =
          new JcaPEMKeyConverter()
              .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider());
      for (Object o : pemObjects(tls.privateKey(), "--tls-key")) {
        if (o instanceof PEMKeyPair pair) {
          // SEC1 EC keys may omit the public half: take the private key alone.
          key = keys.getPrivateKey(pair.getPrivateKeyInfo());
        } else if (o instanceof PrivateKeyInfo info) {
          key = keys.getPrivateKey(info);
        }
      }
      if (chain.isEmpty()) {
        throw new IllegalArgumentException(
            "--tls-cert: " + tls.certificateChain() + " holds no PEM certificate");
      }
      if (key == null) {
        throw new IllegalArgumentException(
            "--tls-key: " + tls.privateKey() + " holds no unencrypted PEM private key");
      }
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("stowage", key, new char[0], chain.toArray(Certificate[]::new));
      return store;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException(
          "TLS: cannot use the certificate and key: " + e.getMessage());
    }
  }

  private static List<Object> pemObjects(Path file, String option) {
    try (Reader in = Files.newBufferedReader(file);
        var parser = new PEMParser(in)) {
      var out = new ArrayList<Object>();
      for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
        out.add(o);
      }
      return out;
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IllegalArgumentException(option + ": no such file: " + file);
    } catch (IOException e) {
      throw new UncheckedIOException(option + ": " + file + ": " + e.getMessage(), e);
    }
  }
}
