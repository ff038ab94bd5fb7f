"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Plus, UserRound } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Checkbox } from "@/components/ui/checkbox";
import { Confirm } from "@/components/ui/confirm";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { EmptyState, ErrorState, LoadingRows } from "@/components/ui/states";
import { Switch } from "@/components/ui/switch";
import { api, ApiError, errorMessage, unwrap, type Schemas } from "@/lib/api/client";
import { asApiError, fieldError, formError } from "@/lib/api/form-errors";
import { timeAgo } from "@/lib/utils";

type User = Schemas["UserOut"];
const USERS = ["users"] as const;

function CreateUserDialog({ open, onOpenChange }: { open: boolean; onOpenChange: (open: boolean) => void }) {
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [isAdmin, setIsAdmin] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/users", { body: { username, password, is_admin: isAdmin } })),
    onSuccess: (user) => {
      queryClient.invalidateQueries({ queryKey: USERS });
      onOpenChange(false);
      toast.success(`User ${user.username} created`);
    },
    onError: (e) => setError(asApiError(e)),
  });
  const usernameError = fieldError(error, "username");
  const passwordError = fieldError(error, "password");
  const general = formError(error, ["username", "password"]);
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>
        <form
          className="flex flex-col gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            create.mutate();
          }}
        >
          <DialogHeader>
            <DialogTitle>New user</DialogTitle>
            <DialogDescription>They log in with this username and password, and can change nothing about other users unless admin.</DialogDescription>
          </DialogHeader>
          {general && (
            <p role="alert" className="text-sm text-destructive">
              {general}
            </p>
          )}
          <Field
            id="new-username"
            label="Username"
            description="Letters, digits, dot, dash and underscore."
            error={usernameError}
          >
            {(control) => (
              <Input
                {...control}
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                required
                autoFocus
                autoComplete="off"
              />
            )}
          </Field>
          <Field id="new-password" label="Password" description="At least 8 characters." error={passwordError}>
            {(control) => (
              <Input
                {...control}
                type="password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                required
                minLength={8}
                autoComplete="new-password"
              />
            )}
          </Field>
          <div className="flex items-center gap-2">
            <Checkbox id="new-is-admin" checked={isAdmin} onCheckedChange={(v) => setIsAdmin(v === true)} />
            <Label htmlFor="new-is-admin">Admin (manages users and drains agents)</Label>
          </div>
          <DialogFooter>
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={create.isPending || !username.trim() || password.length < 8}>
              Create user
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}

function UserRow({ user, isSelf }: { user: User; isSelf: boolean }) {
  const queryClient = useQueryClient();
  const [disabling, setDisabling] = useState(false);
  const update = async (body: { is_admin?: boolean; disabled?: boolean }, done: string) => {
    try {
      await unwrap(api.PATCH("/users/{user_id}", { params: { path: { user_id: user.id } }, body }));
      toast.success(done);
      queryClient.invalidateQueries({ queryKey: USERS });
    } catch (e) {
      toast.error(errorMessage(e));
    }
  };
  const selfNote = isSelf ? "You cannot change this for your own account here" : undefined;
  return (
    <li className="flex flex-wrap items-center gap-3 px-4 py-3">
      <UserRound className="size-5 shrink-0 text-muted-foreground" aria-hidden />
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-2">
          <span className="font-medium">{user.username}</span>
          {isSelf && <Badge variant="outline">you</Badge>}
          {user.is_admin && <Badge>admin</Badge>}
          {user.disabled && <Badge variant="destructive">disabled</Badge>}
        </div>
        <p className="text-sm text-muted-foreground" title={user.created_at}>
          created {timeAgo(user.created_at)}
        </p>
      </div>
      <div className="flex items-center gap-2" title={selfNote}>
        <Switch
          id={`admin-${user.id}`}
          checked={user.is_admin}
          disabled={isSelf}
          onCheckedChange={(v) => update({ is_admin: v }, v ? `${user.username} is now an admin` : `${user.username} is no longer an admin`)}
        />
        <Label htmlFor={`admin-${user.id}`}>Admin</Label>
      </div>
      <div className="flex items-center gap-2" title={selfNote}>
        <Switch
          id={`enabled-${user.id}`}
          checked={!user.disabled}
          disabled={isSelf}
          onCheckedChange={(enabled) =>
            enabled ? update({ disabled: false }, `${user.username} can log in again`) : setDisabling(true)
          }
        />
        <Label htmlFor={`enabled-${user.id}`}>Can log in</Label>
      </div>
      <Confirm
        open={disabling}
        onOpenChange={setDisabling}
        title={`Disable ${user.username}?`}
        description="They are logged out at once and can no longer log in; their API tokens stop working, including any agent started with one. Projects and runs stay. You can enable the account again."
        confirmLabel="Disable user"
        onConfirm={() => update({ disabled: true }, `${user.username} is disabled`)}
      />
    </li>
  );
}

export function UsersSection({ me }: { me: Schemas["Me"] }) {
  const [creating, setCreating] = useState(false);
  const users = useQuery({
    queryKey: USERS,
    queryFn: () => unwrap(api.GET("/users", { params: { query: { limit: 200, order: "asc" } } })),
  });
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-3">
        <div>
          <CardTitle>Users</CardTitle>
          <CardDescription>Who can log in, and who administers the platform.</CardDescription>
        </div>
        <Button onClick={() => setCreating(true)}>
          <Plus /> New user
        </Button>
      </CardHeader>
      <CardContent>
        {users.isPending ? (
          <LoadingRows rows={3} />
        ) : users.error && !users.data ? (
          <ErrorState error={users.error} retry={() => users.refetch()} />
        ) : users.data.items.length === 0 ? (
          <EmptyState title="No users" />
        ) : (
          <ul className="divide-y rounded-md border" aria-label="Users">
            {users.data.items.map((user) => (
              <UserRow key={user.id} user={user} isSelf={user.id === me.id} />
            ))}
          </ul>
        )}
      </CardContent>
      {creating && <CreateUserDialog open={creating} onOpenChange={setCreating} />}
    </Card>
  );
}
