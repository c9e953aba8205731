package cli

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/config"
	"github.com/trailwatch/trailwatch/internal/evidence"
)

func newEvidenceCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Verify evidence bundles and the chain between them; make a signing key",
		Long: `Each evidence bundle written by 'trailwatch review' holds manifest.json: the SHA-256 of every file of the
bundle and of the previous bundle's manifest.json, signed (manifest.sig) when a signing key is configured.
'evidence verify' checks all of it; 'evidence keygen' makes the ed25519 key pair that signs.`,
	}
	cmd.AddCommand(newEvidenceVerifyCmd(e), newEvidenceKeygenCmd(e))
	return cmd
}

func newEvidenceVerifyCmd(e *env) *cobra.Command {
	var pubPath string
	var requireSig bool
	cmd := &cobra.Command{
		Use:   "verify [DIR...]",
		Short: "Check bundles against their manifests, signatures, acks and the hash chain",
		Long: `verify checks each bundle folder given, or every bundle of an evidence folder (default: review.out from
the configuration): each file against the manifest (changed, missing, added), manifest.sig, the acks in
ack.json, and that each bundle links to the one before it with the hash of that bundle's manifest.json as it
is now. It prints one line per problem and an OK line per good bundle.

Without --public-key a signature is checked with the key the manifest names, which shows the bundle did not
change by accident but not that it was signed by you: give the public key you trust.

The exit status is 0 when everything verifies, 1 when there is any problem, 2 for bad arguments.`,
		Example: `  trailwatch evidence verify ./evidence --public-key trailwatch.pub.pem --require-signature
  trailwatch evidence verify ./evidence/2026-03-01 ./evidence/2026-03-02`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts evidence.VerifyOptions
			opts.RequireSignature = requireSig
			if pubPath != "" {
				pub, err := evidence.LoadPublicKey(pubPath)
				if err != nil {
					return usageErr("--public-key: %v", err)
				}
				opts.PublicKey = pub
			}
			if len(args) == 0 {
				cfg, err := e.loadConfig()
				if err != nil {
					return err
				}
				root := evidenceRoot(cfg)
				if strings.HasPrefix(root, "s3://") {
					return usageErr("review.out is %s: evidence verify reads folders; copy the bundles down first, or name a folder", root)
				}
				args = []string{root}
			}
			rep := evidence.Verify(args, opts)
			if err := rep.Write(e.stdout); err != nil {
				return err
			}
			if opts.PublicKey == nil {
				for _, b := range rep.Bundles {
					if b.SignedBy != "" {
						fmt.Fprintln(e.stderr, "trailwatch: note: signatures were checked with the key each manifest names; give --public-key to check they are yours")
						break
					}
				}
			}
			if !rep.OK() {
				n := len(rep.Problems())
				if n == 0 {
					return &exitError{code: ExitFatal, err: fmt.Errorf("evidence verify: no bundles found in %s", strings.Join(args, ", "))}
				}
				return &exitError{code: ExitFatal, err: fmt.Errorf("evidence verify: %s", plural(n, "problem"))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pubPath, "public-key", "", "trusted ed25519 public key (PEM); manifests and acks must be signed by it")
	cmd.Flags().BoolVar(&requireSig, "require-signature", false, "report unsigned manifests and acks as problems")
	return cmd
}

func newEvidenceKeygenCmd(e *env) *cobra.Command {
	var privPath, pubPath string
	cmd := &cobra.Command{
		Use:   "keygen --private FILE --public FILE",
		Short: "Make an ed25519 key pair to sign evidence bundles and acks",
		Long: `keygen writes a new ed25519 private key (PEM, PKCS #8, file mode 0600) and its public key (PEM). It never
overwrites a file. Point review.signing_key at the private key, keep it where only trailwatch can read it, and
give the public key to whoever verifies the evidence. A key made with 'openssl genpkey -algorithm ed25519'
works as well.`,
		Example: `  trailwatch evidence keygen --private /etc/trailwatch/signing.pem --public trailwatch.pub.pem`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if privPath == "" || pubPath == "" {
				return usageErr("evidence keygen: --private FILE and --public FILE are required")
			}
			if err := evidence.GenerateKey(privPath, pubPath); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "private key: %s (keep it secret; set review.signing_key to it)\npublic key:  %s (give it to verifiers: trailwatch evidence verify --public-key %s)\n", privPath, pubPath, pubPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&privPath, "private", "", "file to write the private key to (must not exist)")
	cmd.Flags().StringVar(&pubPath, "public", "", "file to write the public key to (must not exist)")
	return cmd
}

func newReviewAckCmd(e *env) *cobra.Command {
	var by, note, keyPath string
	cmd := &cobra.Command{
		Use:   "ack DIR|LABEL --by NAME",
		Short: "Record that you reviewed an evidence bundle (PCI DSS 10.4.1)",
		Long: `ack appends your acknowledgement to the bundle's ack.json: who, when, your note, and the SHA-256 of the
bundle's manifest.json, so the ack is for exactly the files you reviewed. It is signed with --key (default:
review.signing_key); without a key the ack is written unsigned, with a warning. A bundle that does not match
its manifest is refused. Several people can acknowledge the same bundle.

DIR is the bundle folder, or the label of a bundle in the evidence folder (review.out, default ./evidence).`,
		Example: `  trailwatch review ack 2026-03-01 --by "Alice Martin" --note "root sign-in was the break-glass test, ticket SEC-114"
  trailwatch review ack ./evidence/2026-03-01 --by alice --key ~/.trailwatch/alice.pem`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(by) == "" {
				return usageErr("review ack: --by NAME is required (who reviewed the bundle)")
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			dir := args[0]
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				root := evidenceRoot(cfg)
				alt := filepath.Join(root, dir)
				if st, err := os.Stat(alt); strings.HasPrefix(root, "s3://") || err != nil || !st.IsDir() {
					return usageErr("review ack: %s is neither a bundle folder nor a bundle in %s", dir, root)
				}
				dir = alt
			}
			var key ed25519.PrivateKey
			if keyPath != "" || !cmd.Flags().Changed("key") { // --key "" signs with no key
				key, err = signingKey(cfg, keyPath)
			}
			if err != nil {
				return err
			}
			if key == nil {
				fmt.Fprintln(e.stderr, "trailwatch: warning: no signing key (--key or review.signing_key): the ack is not signed, so nothing proves who made it")
			}
			r, err := evidence.Ack(dir, by, note, key, time.Now())
			if err != nil {
				return err
			}
			signed := "unsigned"
			if r.Signature != "" {
				signed = "signed"
			}
			fmt.Fprintf(e.stdout, "acknowledged %s as %s at %s (%s; manifest sha256 %s)\n", r.Label, r.By, r.At.Format(time.RFC3339), signed, r.ManifestSHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "your name, as the assessor should read it (required)")
	cmd.Flags().StringVar(&note, "note", "", "what you checked or followed up")
	cmd.Flags().StringVar(&keyPath, "key", "", `ed25519 private key (PEM) to sign the ack (default: review.signing_key; --key "" for none)`)
	return cmd
}

// evidenceRoot is the configured evidence folder, review.out, or ./evidence.
func evidenceRoot(cfg *config.Config) string {
	if cfg.Review.Out == "" {
		return "evidence"
	}
	if strings.HasPrefix(cfg.Review.Out, "s3://") {
		return cfg.Review.Out
	}
	return cfg.Resolve(cfg.Review.Out)
}
