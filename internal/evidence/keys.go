package evidence

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// LoadPrivateKey reads an ed25519 private key from a PEM "PRIVATE KEY" block (PKCS #8), as
// `openssl genpkey -algorithm ed25519` and GenerateKey write it.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	fail := func(format string, args ...any) (ed25519.PrivateKey, error) {
		return nil, fmt.Errorf("load private key %s: %s", path, fmt.Sprintf(format, args...))
	}
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return fail("%v", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fail("PKCS #8: %v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return fail("the key is %s, want ed25519", keyType(k))
	}
	return priv, nil
}

// LoadPublicKey reads an ed25519 public key from a PEM "PUBLIC KEY" block (PKIX), as
// `openssl pkey -pubout` and GenerateKey write it.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	fail := func(format string, args ...any) (ed25519.PublicKey, error) {
		return nil, fmt.Errorf("load public key %s: %s", path, fmt.Sprintf(format, args...))
	}
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return fail("%v", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return fail("PKIX: %v", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return fail("the key is %s, want ed25519", keyType(k))
	}
	return pub, nil
}

func readPEM(path, want string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("no PEM block (want %q)", want)
	case block.Type == "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the key is encrypted; trailwatch needs it unencrypted (protect the file instead)")
	case block.Type != want:
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, want)
	}
	return block.Bytes, nil
}

func keyType(k any) string {
	switch k.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "ECDSA"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "ECDH (e.g. X25519, not ed25519)"
	}
	return fmt.Sprintf("%T", k)
}

// GenerateKey makes a new ed25519 key pair and writes the private key to privPath (PEM PKCS #8, mode
// 0600) and the public key to pubPath (PEM PKIX). It refuses to overwrite either file.
func GenerateKey(privPath, pubPath string) error {
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("generate key: %s already exists; not overwriting it", p)
		}
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	if err := writeNew(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(privPath)
		return fmt.Errorf("generate key: %w", err)
	}
	return nil
}

// writeNew creates path, failing when it exists, and writes data to it.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
