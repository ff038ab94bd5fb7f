"use client";

import { AlertTriangle, Check, Copy } from "lucide-react";
import { useRef, useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";

/** Copy text; the Clipboard API needs a secure context (https or localhost), so a dashboard
 *  served over plain http on a LAN address falls back to copying the selected field. */
async function copyText(text: string, field: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!field) return false;
    field.select();
    // The deprecated command is the only copy left outside a secure context.
    return document.execCommand("copy");
  }
}

/** A new token's secret, shown this once: the server keeps only its hash. */
export function SecretDialog({
  name,
  secret,
  onClose,
}: {
  name: string;
  secret: string;
  onClose: () => void;
}) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent onInteractOutside={(e) => e.preventDefault()}>
        <DialogHeader>
          <DialogTitle>Token {name} created</DialogTitle>
          <DialogDescription>Use it as <code className="font-mono">Authorization: Bearer …</code>, or as an agent&apos;s VISIONYARD_AGENT_TOKEN.</DialogDescription>
        </DialogHeader>
        <p role="alert" className="flex gap-2 rounded-md border border-warning/50 bg-warning/10 p-3 text-sm">
          <AlertTriangle className="mt-0.5 size-4 shrink-0 text-warning" aria-hidden />
          Copy it now: this is the only time it is shown. Only a hash of it is stored, so it cannot be shown again;
          if it is lost, revoke it and create another.
        </p>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="token-secret">Secret</Label>
          <div className="flex gap-2">
            <Input
              id="token-secret"
              ref={field}
              readOnly
              value={secret}
              className="font-mono"
              onFocus={(e) => e.currentTarget.select()}
            />
            <Button
              variant="outline"
              onClick={async () => {
                if (await copyText(secret, field.current)) {
                  setCopied(true);
                  toast.success("Secret copied");
                } else {
                  toast.error("Could not copy: select the secret and copy it by hand");
                }
              }}
            >
              {copied ? <Check aria-hidden /> : <Copy aria-hidden />} {copied ? "Copied" : "Copy"}
            </Button>
          </div>
        </div>
        <DialogFooter>
          <Button onClick={onClose}>I have copied it</Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
