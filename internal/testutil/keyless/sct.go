package keyless

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// oidSCTList is the X.509 extension that carries embedded signed
// certificate timestamps (RFC 6962, section 3.3).
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// ctLog is a certificate-transparency log that only signs timestamps, as
// Fulcio's CT log does for the certificates it issues.
type ctLog struct {
	key   *ecdsa.PrivateKey
	id    [32]byte // sha256 of the public key's DER
	start time.Time
}

func newCTLog(key *ecdsa.PrivateKey, start time.Time) (*ctLog, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &ctLog{key: key, id: sha256.Sum256(der), start: start}, nil
}

// transparencyLog is the log's entry in a trusted root.
func (l *ctLog) transparencyLog(url string) *root.TransparencyLog {
	return &root.TransparencyLog{
		BaseURL: url, ID: l.id[:], ValidityPeriodStart: l.start,
		HashFunc: crypto.SHA256, PublicKey: &l.key.PublicKey, SignatureHashFunc: crypto.SHA256,
	}
}

// embeddedSCT returns the SCT-list extension for a certificate whose
// to-be-signed part, without that extension, is tbs, issued by issuer: an
// RFC 6962 v1 timestamp over a precertificate entry.
func (l *ctLog) embeddedSCT(tbs []byte, issuer *x509.Certificate) (pkix.Extension, error) {
	ts := uint64(time.Now().UnixMilli())
	issuerKeyHash := sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	if len(tbs) >= 1<<24 {
		return pkix.Extension{}, fmt.Errorf("tbs certificate too large")
	}
	// digitally-signed struct: version v1, signature type
	// certificate_timestamp, timestamp, entry type precert_entry, issuer key
	// hash, TBS (24-bit length), no extensions.
	var in []byte
	in = append(in, 0, 0)
	in = binary.BigEndian.AppendUint64(in, ts)
	in = binary.BigEndian.AppendUint16(in, 1)
	in = append(in, issuerKeyHash[:]...)
	in = append(in, byte(len(tbs)>>16), byte(len(tbs)>>8), byte(len(tbs)))
	in = append(in, tbs...)
	in = binary.BigEndian.AppendUint16(in, 0)
	digest := sha256.Sum256(in)
	sig, err := ecdsa.SignASN1(rand.Reader, l.key, digest[:])
	if err != nil {
		return pkix.Extension{}, err
	}
	// SignedCertificateTimestamp: version, log id, timestamp, extensions,
	// then the signature as DigitallySigned (SHA-256, ECDSA).
	var sct []byte
	sct = append(sct, 0)
	sct = append(sct, l.id[:]...)
	sct = binary.BigEndian.AppendUint64(sct, ts)
	sct = binary.BigEndian.AppendUint16(sct, 0)
	sct = append(sct, 4, 3)
	sct = binary.BigEndian.AppendUint16(sct, uint16(len(sig)))
	sct = append(sct, sig...)
	// SignedCertificateTimestampList: one serialized SCT.
	var list []byte
	list = binary.BigEndian.AppendUint16(list, uint16(2+len(sct)))
	list = binary.BigEndian.AppendUint16(list, uint16(len(sct)))
	list = append(list, sct...)
	value, err := asn1.Marshal(list) // an OCTET STRING
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSCTList, Value: value}, nil
}
