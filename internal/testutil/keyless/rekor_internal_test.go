package keyless

import (
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

func TestMerkleProofsVerifyWithTransparencyDev(t *testing.T) {
	var leaves [][32]byte
	for n := 1; n <= 33; n++ {
		leaves = append(leaves, leafHash([]byte{byte(n), 'x'}))
		root := treeHash(leaves)
		for i := range leaves {
			var path [][]byte
			for _, h := range auditPath(i, leaves) {
				path = append(path, h[:])
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), leaves[i][:], path, root[:]); err != nil {
				t.Fatalf("leaf %d of %d: %v", i, n, err)
			}
		}
	}
}
