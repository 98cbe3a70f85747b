package dev.courier.server.http;

import dev.courier.ConfigurationException;
import dev.courier.server.config.HttpSettings;
import dev.courier.server.config.Setting;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/** The TLS context of an HTTPS server, from the keystore {@code courier.http.tls.*} names. */
final class Keystores {
  private Keystores() {}

  /**
   * @throws ConfigurationException naming {@code courier.http.tls.keystore} (or its password) when
   *     the file is missing, unreadable, of another type, holds no key, or the password is wrong;
   *     the password itself is never shown
   */
  static SSLContext sslContext(HttpSettings.Tls tls) {
    char[] password = tls.password() == null ? new char[0] : tls.password().toCharArray();
    try {
      KeyStore store = KeyStore.getInstance(tls.type());
      try (InputStream in = Files.newInputStream(tls.keystore())) {
        store.load(in, password);
      }
      boolean hasKey = false;
      for (var aliases = store.aliases(); aliases.hasMoreElements(); ) {
        if (store.isKeyEntry(aliases.nextElement())) {
          hasKey = true;
        }
      }
      if (!hasKey) {
        throw new ConfigurationException(
            Setting.HTTP_TLS_KEYSTORE.key(), tls.keystore() + " holds no private key for the server");
      }
      KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keys.init(store, password);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(keys.getKeyManagers(), null, null);
      return context;
    } catch (NoSuchFileException e) {
      throw new ConfigurationException(Setting.HTTP_TLS_KEYSTORE.key(), tls.keystore() + " does not exist");
    } catch (IOException e) {
      // a wrong password shows as an IOException whose cause is UnrecoverableKeyException
      if (e.getCause() instanceof UnrecoverableKeyException) {
        throw new ConfigurationException(
            Setting.HTTP_TLS_KEYSTORE_PASSWORD.key(), "does not open " + tls.keystore());
      }
      throw new ConfigurationException(
          Setting.HTTP_TLS_KEYSTORE.key(),
          "cannot read " + tls.keystore() + " as a " + tls.type() + " keystore (" + e.getClass().getSimpleName()
              + "; a wrong " + Setting.HTTP_TLS_KEYSTORE_PASSWORD.key() + " reads this way too)");
    } catch (UnrecoverableKeyException e) {
      throw new ConfigurationException(
          Setting.HTTP_TLS_KEYSTORE_PASSWORD.key(), "does not open the key in " + tls.keystore());
    } catch (GeneralSecurityException e) {
      throw new ConfigurationException(
          Setting.HTTP_TLS_KEYSTORE.key(), "cannot be used for TLS: " + e.getClass().getSimpleName());
    } finally {
      java.util.Arrays.fill(password, '\0');
    }
  }
}
