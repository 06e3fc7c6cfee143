#!/bin/sh
# Install pinned terraform, kubectl and argocd-vault-plugin into DIR, unless the same
# versions are already on PATH. Usage: install-tools.sh DIR TERRAFORM KUBECTL AVP
set -eu
dir=$1 tf=$2 kc=$3 avp=$4
os=$(uname -s | tr '[:upper:]' '[:lower:]')
case $(uname -m) in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) echo "unsupported CPU $(uname -m)" >&2; exit 1 ;; esac
mkdir -p "$dir"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if terraform version 2>/dev/null | head -1 | grep -q "v$tf\$"; then echo "terraform $tf: present"; else
  curl -fsSLo "$tmp/tf.zip" "https://releases.hashicorp.com/terraform/$tf/terraform_${tf}_${os}_${arch}.zip"
  unzip -oq "$tmp/tf.zip" terraform -d "$dir" && echo "terraform $tf: installed"
fi
if kubectl version --client 2>/dev/null | grep -q "v$kc"; then echo "kubectl $kc: present"; else
  curl -fsSLo "$dir/kubectl" "https://dl.k8s.io/release/v$kc/bin/$os/$arch/kubectl"
  chmod +x "$dir/kubectl" && echo "kubectl $kc: installed"
fi
if argocd-vault-plugin version 2>/dev/null | grep -q "$avp"; then echo "argocd-vault-plugin $avp: present"; else
  curl -fsSLo "$dir/argocd-vault-plugin" "https://github.com/argoproj-labs/argocd-vault-plugin/releases/download/v$avp/argocd-vault-plugin_${avp}_${os}_${arch}"
  chmod +x "$dir/argocd-vault-plugin" && echo "argocd-vault-plugin $avp: installed"
fi
