package ssh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authMethod builds one publickey method from the key file and the agent.
// They must be a single method: the SSH client tries each method name only
// once, so a second "publickey" method would never be attempted.
func authMethod(a Auth) (xssh.AuthMethod, io.Closer, error) {
	var fileSigner xssh.Signer
	if a.KeyFile != "" {
		pemBytes, err := os.ReadFile(a.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read private key: %w", err)
		}
		if len(a.Passphrase) > 0 {
			fileSigner, err = xssh.ParsePrivateKeyWithPassphrase(pemBytes, a.Passphrase)
		} else {
			fileSigner, err = xssh.ParsePrivateKey(pemBytes)
		}
		var missing *xssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, nil, fmt.Errorf("private key %s is encrypted and no passphrase was configured", a.KeyFile)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("parse private key %s: %w", a.KeyFile, err)
		}
	}

	var ag agent.ExtendedAgent
	var closer io.Closer
	if a.Agent {
		sock := a.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if sock == "" {
			return nil, nil, errors.New("ssh-agent requested but SSH_AUTH_SOCK is not set")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("connect to ssh-agent %s: %w", sock, err)
		}
		ag, closer = agent.NewClient(conn), conn
	}

	if fileSigner == nil && ag == nil {
		return nil, nil, errors.New("ssh config: no authentication configured (key file or agent)")
	}
	return xssh.PublicKeysCallback(func() ([]xssh.Signer, error) {
		var signers []xssh.Signer
		if fileSigner != nil {
			signers = append(signers, fileSigner)
		}
		if ag != nil {
			s, err := ag.Signers()
			if err != nil {
				// A broken agent should not hide a usable key file.
				if fileSigner != nil {
					return signers, nil
				}
				return nil, fmt.Errorf("ssh-agent: %w", err)
			}
			signers = append(signers, s...)
		}
		return signers, nil
	}), closer, nil
}
