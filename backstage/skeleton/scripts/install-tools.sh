{% from '.portal-context.jinja' import secret_delivery, topology with context %}#!/bin/sh
{%- if secret_delivery == 'argocd-vault-plugin' and topology != 'elasticache' %}
# Install pinned terraform, kubectl and argocd-vault-plugin into DIR, unless the same
# versions are already on PATH. Usage: install-tools.sh DIR TERRAFORM KUBECTL AVP
#
# Every download is checked against the SHA-256 its publisher releases beside it
# (terraform: terraform_<v>_SHA256SUMS; kubectl: kubectl.sha256; argocd-vault-plugin:
# argocd-vault-plugin_<v>_checksums.txt) before anything is put in DIR; a mismatch or a
# missing checksum stops the script with an error and installs nothing of that tool.
# The base URLs can point at a mirror: TERRAFORM_BASE_URL, KUBECTL_BASE_URL, AVP_BASE_URL.
set -eu
dir=$1 tf=$2 kc=$3 avp=$4
{%- else %}
# Install pinned terraform and kubectl into DIR, unless the same versions are already
# on PATH. Usage: install-tools.sh DIR TERRAFORM KUBECTL
#
# Every download is checked against the SHA-256 its publisher releases beside it
# (terraform: terraform_<v>_SHA256SUMS; kubectl: kubectl.sha256) before anything is put
# in DIR; a mismatch or a missing checksum stops the script with an error and installs
# nothing of that tool. The base URLs can point at a mirror: TERRAFORM_BASE_URL,
# KUBECTL_BASE_URL.
set -eu
dir=$1 tf=$2 kc=$3
{%- endif %}
tf_base=${TERRAFORM_BASE_URL:-https://releases.hashicorp.com/terraform}
kc_base=${KUBECTL_BASE_URL:-https://dl.k8s.io/release}
{%- if secret_delivery == 'argocd-vault-plugin' and topology != 'elasticache' %}
avp_base=${AVP_BASE_URL:-https://github.com/argoproj-labs/argocd-vault-plugin/releases/download}
{%- endif %}
os=$(uname -s | tr '[:upper:]' '[:lower:]')
case $(uname -m) in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) echo "unsupported CPU $(uname -m)" >&2; exit 1 ;; esac
mkdir -p "$dir"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

fetch() { curl -fsSLo "$1" "$2"; }
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}
# verify FILE EXPECTED WHAT: refuse FILE unless its SHA-256 is EXPECTED (64 hex digits).
verify() {
  case $2 in
    *[!0-9a-f]*|"") echo "install-tools: no published SHA-256 for $3; refusing to install it" >&2; exit 1 ;;
  esac
  if [ {% raw %}${#2}{% endraw %} -ne 64 ]; then echo "install-tools: no published SHA-256 for $3; refusing to install it" >&2; exit 1; fi
  actual=$(sha256_of "$1")
  if [ "$actual" != "$2" ]; then
    echo "install-tools: checksum mismatch for $3: the publisher says $2, the download is $actual; refusing to install it" >&2
    exit 1
  fi
}
# listed SUMS NAME: the hash a SHA256SUMS-style file gives for NAME ("<hash>  <name>" lines).
listed() { awk -v name="$2" '$2 == name || $2 == "*" name { print tolower($1); exit }' "$1"; }

if terraform version 2>/dev/null | head -1 | grep -q "v$tf\$"; then echo "terraform $tf: present"; else
  zip=terraform_${tf}_${os}_${arch}.zip
  fetch "$tmp/$zip" "$tf_base/$tf/$zip"
  fetch "$tmp/tf.sums" "$tf_base/$tf/terraform_${tf}_SHA256SUMS"
  verify "$tmp/$zip" "$(listed "$tmp/tf.sums" "$zip")" "$zip"
  unzip -oq "$tmp/$zip" terraform -d "$dir" && echo "terraform $tf: installed (SHA-256 verified)"
fi
if kubectl version --client 2>/dev/null | grep -q "v$kc"; then echo "kubectl $kc: present"; else
  fetch "$tmp/kubectl" "$kc_base/v$kc/bin/$os/$arch/kubectl"
  fetch "$tmp/kubectl.sha256" "$kc_base/v$kc/bin/$os/$arch/kubectl.sha256"
  verify "$tmp/kubectl" "$(awk '{ print tolower($1); exit }' "$tmp/kubectl.sha256")" "kubectl $kc"
  chmod +x "$tmp/kubectl" && mv "$tmp/kubectl" "$dir/kubectl" && echo "kubectl $kc: installed (SHA-256 verified)"
fi
{%- if secret_delivery == 'argocd-vault-plugin' and topology != 'elasticache' %}
if argocd-vault-plugin version 2>/dev/null | grep -q "$avp"; then echo "argocd-vault-plugin $avp: present"; else
  bin=argocd-vault-plugin_${avp}_${os}_${arch}
  fetch "$tmp/$bin" "$avp_base/v$avp/$bin"
  fetch "$tmp/avp.sums" "$avp_base/v$avp/argocd-vault-plugin_${avp}_checksums.txt"
  verify "$tmp/$bin" "$(listed "$tmp/avp.sums" "$bin")" "$bin"
  chmod +x "$tmp/$bin" && mv "$tmp/$bin" "$dir/argocd-vault-plugin" && echo "argocd-vault-plugin $avp: installed (SHA-256 verified)"
fi
{%- endif %}
